import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderCrdFiles } from '../../src/api/crd/render.js';
import { renderChartCrdTemplates } from '../../src/api/crd/chart-templates.js';

const crdDir = join(import.meta.dirname, '../../manifests/crd');
const chartCrdDir = join(import.meta.dirname, '../../charts/checkpoint-operator/templates/crds');

describe('manifests/crd', () => {
  it('is exactly what the zod schemas generate (run `npm run generate` after changing src/api)', async () => {
    const rendered = renderCrdFiles();
    const committed = (await readdir(crdDir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    expect(committed).toEqual([...rendered.keys()].sort());
    for (const [name, text] of rendered) {
      expect(await readFile(join(crdDir, name), 'utf8'), name).toBe(text);
    }
  });

  it('declares the short names, scopes and status subresources the API promises', () => {
    const crds = [...renderCrdFiles().values()].map((t) => parse(t));
    const byKind = Object.fromEntries(crds.map((c) => [c.spec.names.kind, c]));
    expect(byKind.Checkpoint.spec.scope).toBe('Namespaced');
    expect(byKind.Checkpoint.spec.names.shortNames).toEqual(['ckpt']);
    expect(byKind.CheckpointPolicy.spec.scope).toBe('Cluster');
    expect(byKind.CheckpointPolicy.spec.names.shortNames).toEqual(['ckptpol']);
    for (const crd of crds) expect(crd.spec.versions[0].subresources).toEqual({ status: {} });
  });

  it('leaves no construct a structural schema forbids', () => {
    const forbidden: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`));
      if (typeof node !== 'object' || node === null) return;
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref' || k === '$defs' || k === 'oneOf' || k === 'allOf' || k === 'not' || k === '$schema')
          forbidden.push(`${path}.${k}`);
        if (k === 'additionalProperties' && v === false) forbidden.push(`${path}.${k}`);
        if (k === 'anyOf' && !(node as Record<string, unknown>)['x-kubernetes-int-or-string'])
          forbidden.push(`${path}.${k}`);
        walk(v, `${path}.${k}`);
      }
    };
    for (const text of renderCrdFiles().values()) walk(parse(text), '');
    expect(forbidden).toEqual([]);
  });
});

describe("the Helm chart's CRD templates", () => {
  it('are exactly what the zod schemas generate (run `npm run generate` after changing src/api)', async () => {
    const rendered = renderChartCrdTemplates();
    const committed = (await readdir(chartCrdDir)).sort();
    expect(committed).toEqual([...rendered.keys()].sort());
    for (const [name, text] of rendered) {
      expect(await readFile(join(chartCrdDir, name), 'utf8'), name).toBe(text);
    }
  });

  it("hold the same CRDs as manifests/crd, kept on uninstall, once the chart's conditionals and labels are taken out", () => {
    const manifests = renderCrdFiles();
    for (const [name, template] of renderChartCrdTemplates()) {
      // Lines that are only a template action: the crds.enabled/keep conditionals and Helm's labels.
      const plain = template
        .split('\n')
        .filter((line) => !/^\s*\{\{-.*\}\}\s*$/.test(line))
        .join('\n');
      const crd = parse(manifests.get(name)!);
      expect(parse(plain), name).toEqual({
        ...crd,
        metadata: { ...crd.metadata, annotations: { 'helm.sh/resource-policy': 'keep' } },
      });
    }
  });

  it('sit behind crds.enabled and put the keep annotation behind crds.keep', () => {
    for (const [name, template] of renderChartCrdTemplates()) {
      const actions = template.match(/\{\{-[^}]*\}\}/g) ?? [];
      expect(actions[1], name).toBe('{{- if .Values.crds.enabled }}');
      expect(actions.at(-1), name).toBe('{{- end }}');
      expect(template, name).toContain(
        ['  {{- if .Values.crds.keep }}', '  annotations:', '    helm.sh/resource-policy: keep', '  {{- end }}'].join(
          '\n',
        ),
      );
    }
  });
});

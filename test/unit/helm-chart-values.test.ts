import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES } from '../../src/dispatcher/config.js';

const chart = join(import.meta.dirname, '../../charts/checkpoint-operator');
const read = (path: string) => readFile(join(chart, path), 'utf8');

/** Values whose content is Kubernetes' own (a map or list passed through as it is): listed by their own path. */
const PASSED_THROUGH = new Set([
  'resources',
  'affinity',
  'nodeSelector',
  'tolerations',
  'podAnnotations',
  'podLabels',
  'extraEnv',
  'image.pullSecrets',
  'watchNamespaces',
  'storage.localRoots',
  'namespace.labels',
  'prometheus.labels',
  'prometheus.serviceMonitor.tlsConfig',
  'prometheus.pushgatewayServiceMonitor.selector',
]);

function valuePaths(node: unknown, prefix = ''): string[] {
  if (PASSED_THROUGH.has(prefix) || node === null || typeof node !== 'object' || Array.isArray(node)) return [prefix];
  return Object.entries(node).flatMap(([k, v]) => valuePaths(v, prefix ? `${prefix}.${k}` : k));
}

describe('the Helm chart', () => {
  it('sets every variable the dispatcher reads in its Deployment', async () => {
    const deployment = await read('templates/deployment.yaml');
    const missing = CONFIG_VARIABLES.filter((v) => !new RegExp(`(name: |")${v}"?\\b`).test(deployment));
    expect(missing).toEqual([]);
  });

  it('describes every value in its README and its schema', async () => {
    const paths = valuePaths(parse(await read('values.yaml')));
    const readme = await read('README.md');
    expect(paths.filter((p) => !readme.includes(`\`${p}\``))).toEqual([]);
    const schema = JSON.parse(await read('values.schema.json'));
    const inSchema = (path: string) =>
      path
        .split('.')
        .reduce<{ properties?: Record<string, unknown> } | undefined>(
          (node, key) => node?.properties?.[key] as { properties?: Record<string, unknown> } | undefined,
          schema,
        ) !== undefined;
    expect(paths.filter((p) => !inSchema(p))).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { installManifest } from '../../release/install-manifest.js';

const PINNED = `r.io/op:v1@sha256:${'e'.repeat(64)}`;
const RENDERED = `apiVersion: v1
kind: Namespace
metadata:
  name: checkpoint-operator-system
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkpoint-operator
spec:
  template:
    spec:
      containers:
        - name: manager
          image: registry.example.com/checkpoint-operator:v1.0.0
        - name: sidecar
          image: busybox
`;

describe('installManifest', () => {
  it('keeps every object and pins only the manager container', () => {
    const out = installManifest(RENDERED, PINNED, 'v1.0.0');
    const docs = parseAllDocuments(out).map((d) => d.toJS());
    expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'Deployment']);
    expect(docs[1].spec.template.spec.containers.map((c: { image: string }) => c.image)).toEqual([PINNED, 'busybox']);
    expect(out.startsWith('# checkpoint-operator v1.0.0')).toBe(true);
    expect(out).toContain(`# Image: ${PINNED}`);
  });

  it('refuses an image not pinned by digest', () => {
    expect(() => installManifest(RENDERED, 'r.io/op:v1', 'v1.0.0')).toThrow('is not pinned by a sha256 digest');
  });

  it('refuses a rendering without the operator Deployment to pin', () => {
    expect(() => installManifest('apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n', PINNED, 'v1')).toThrow(
      'expected one Deployment container named manager to pin, found 0',
    );
  });
});

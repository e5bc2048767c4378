import { join } from 'node:path';
import { PatchStrategy } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { API_GROUP, API_VERSION, CHECKPOINT_PLURAL } from '../../src/api/constants.js';
import { invalidObjects, validCheckpoint, validPolicy } from '../fixtures/invalid-objects.js';
import { customObjects, getTable, kubectl, objects, refusal } from './support/kube.js';

const root = join(import.meta.dirname, '../..');
type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: unknown;
  status?: unknown;
};

describe('the CRDs on a real API server', () => {
  it('accepts every sample in manifests/samples, and applies the schema defaults', async () => {
    const out = await kubectl(['apply', '-k', join(root, 'manifests/samples'), '-n', 'default']);
    // Other test files may have applied the seed policy already.
    expect(out).toMatch(/checkpointpolicy\.checkpoint\.example\.com\/default-policy (created|configured|unchanged)/);
    expect(out).toContain('checkpoint.checkpoint.example.com/my-app-checkpoint created');
    const docs = (await kubectl(['kustomize', join(root, 'manifests/samples')]))
      .split(/^---$/m)
      .flatMap((t) => parseAllDocuments(t).map((d) => d.toJS() as Obj))
      .filter(Boolean);
    expect(docs.length).toBeGreaterThanOrEqual(5);
    for (const doc of docs) {
      const stored = (await objects().read({
        apiVersion: doc.apiVersion,
        kind: doc.kind,
        metadata: { name: doc.metadata.name, namespace: doc.kind === 'Checkpoint' ? 'default' : undefined },
      } as never)) as Obj;
      expect(stored.metadata.name).toBe(doc.metadata.name);
    }
    const policy = JSON.parse(await kubectl(['get', 'ckptpol', 'default-policy', '-o', 'json']));
    expect(policy.spec.retention).toEqual({
      maxCount: 5,
      maxAge: '72h',
      schedule: '*/15 * * * *',
      suspend: false,
      reclaimPolicy: 'Delete',
      deleteOrphans: false,
    });
  });

  it('answers to the short names ckpt and ckptpol', async () => {
    expect(await kubectl(['get', 'ckpt', '-n', 'default', '-o', 'name'])).toContain(
      'checkpoint.checkpoint.example.com/my-app-checkpoint',
    );
    expect(await kubectl(['get', 'ckptpol', '-o', 'name'])).toContain(
      'checkpointpolicy.checkpoint.example.com/default-policy',
    );
  });

  describe(`refuses ${invalidObjects.length} invalid objects, naming the offending field`, () => {
    it.each(invalidObjects.map((c, i) => [c.title, c, i] as const))('%s', async (_title, c, i) => {
      const api = objects();
      const object = structuredClone(c.object) as Obj;
      object.metadata.name = c.field === 'metadata.name' ? object.metadata.name : `invalid-${i}`;
      if (c.updateSpec) {
        await api.create(object as never);
        // A merge patch carries no resourceVersion: the operator writing status meanwhile cannot
        // turn the expected 422 into a 409.
        const patch = {
          apiVersion: object.apiVersion,
          kind: object.kind,
          metadata: { name: object.metadata.name, namespace: object.metadata.namespace },
          spec: c.updateSpec,
        };
        const { code, message } = await refusal(
          api.patch(patch as never, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch),
        );
        expect(code).toBe(422);
        expect(message).toContain(`${c.field}: Invalid value`);
        expect(message).toContain('immutable');
        return;
      }
      const { code, message } = await refusal(api.create(JSON.parse(JSON.stringify(object))));
      expect(code).toBe(422);
      expect(message).toMatch(new RegExp(`(^|[\\s\\[])${c.field.replace(/[.[\]]/g, '\\$&')}(: |\\s|$)`));
    });
  });

  it('keeps status out of reach of spec writers (status subresource)', async () => {
    const api = objects();
    const ckpt = validCheckpoint('status-subresource') as Obj;
    await api.create(ckpt as never);
    // A merge patch carries no resourceVersion, so it cannot lose a race with the operator.
    await kubectl([
      'patch',
      'ckpt',
      'status-subresource',
      '-n',
      'default',
      '--type=merge',
      '-p',
      '{"status":{"phase":"Succeeded","reason":"Forged"}}',
    ]);
    // The operator may have recorded its own verdict meanwhile; the forged one must not land.
    expect(((await api.read(ckpt as never)) as Obj & { status?: { reason?: string } }).status?.reason).not.toBe(
      'Forged',
    );
  });

  it("returns the printer columns in the server's Table output", async () => {
    const ckpt = validCheckpoint('printer-columns') as Obj;
    await objects().create(ckpt as never);
    await customObjects().patchNamespacedCustomObjectStatus({
      group: API_GROUP,
      version: API_VERSION,
      namespace: 'default',
      plural: CHECKPOINT_PLURAL,
      name: 'printer-columns',
      body: [
        {
          op: 'add',
          path: '/status',
          value: {
            phase: 'Succeeded',
            containerName: 'main',
            nodeName: 'node-a',
            archive: {
              backend: 'local',
              uri: 'local://node-a/var/lib/checkpoints/x.tar',
              sizeBytes: 4096,
              sha256: 'a'.repeat(64),
              createdAt: '2026-11-25T03:00:00Z',
            },
          },
        },
      ],
    });
    const table = await getTable(
      `/apis/${API_GROUP}/${API_VERSION}/namespaces/default/${CHECKPOINT_PLURAL}/printer-columns`,
    );
    expect(table.kind).toBe('Table');
    const names = table.columnDefinitions.map((c) => c.name);
    expect(names).toEqual(['Name', 'Phase', 'Pod', 'Container', 'Node', 'Size', 'Reason', 'Age']);
    const cells = Object.fromEntries(names.map((n, i) => [n, table.rows[0]!.cells[i]]));
    expect(cells).toMatchObject({
      Name: 'printer-columns',
      Phase: 'Succeeded',
      Pod: 'my-app-pod-0',
      Container: 'main',
      Node: 'node-a',
      Size: 4096,
    });

    const printed = await kubectl(['get', 'ckpt', 'printer-columns', '-n', 'default']);
    expect(printed).toMatch(/^NAME\s+PHASE\s+POD\s+CONTAINER\s+NODE\s+SIZE\s+AGE/);
    expect(printed).toMatch(/printer-columns\s+Succeeded\s+my-app-pod-0\s+main\s+node-a\s+4096\s/);
  });

  it('shows policy columns', async () => {
    await objects().create(validPolicy('columns-policy') as never);
    const printed = await kubectl(['get', 'ckptpol', 'columns-policy']);
    expect(printed).toMatch(/^NAME\s+BACKEND\s+MAX COUNT\s+MAX AGE\s+LAST SWEEP\s+AGE/);
    expect(printed).toMatch(/columns-policy\s+pvc\s+5\s+72h\s/);
  });
});

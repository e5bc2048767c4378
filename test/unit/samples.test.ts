import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { checkpointPolicySchema, checkpointSchema } from '../../src/api/index.js';

const samplesDir = join(import.meta.dirname, '../../manifests/samples');

describe('manifests/samples', async () => {
  const files = (await readdir(samplesDir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');

  it('holds the two examples of the original product description', () => {
    expect(files).toEqual(expect.arrayContaining(['example-checkpoint-policy.yaml', 'example-checkpoint.yaml']));
  });

  it.each(files)('%s parses with the zod schemas', async (file) => {
    for (const doc of parseAllDocuments(await readFile(join(samplesDir, file), 'utf8'))) {
      const obj = doc.toJS();
      const schema = obj.kind === 'Checkpoint' ? checkpointSchema : checkpointPolicySchema;
      const result = schema.safeParse(obj);
      expect(result.error?.issues ?? []).toEqual([]);
    }
  });

  it('applies the policy defaults', async () => {
    const obj = parseAllDocuments(
      await readFile(join(samplesDir, 'example-checkpoint-policy.yaml'), 'utf8'),
    )[0]!.toJS();
    const policy = checkpointPolicySchema.parse(obj);
    expect(policy.spec.retention).toEqual({
      maxCount: 5,
      maxAge: '72h',
      schedule: '*/15 * * * *',
      suspend: false,
      reclaimPolicy: 'Delete',
      deleteOrphans: false,
    });
  });
});

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkpointPolicySchema, checkpointSchema } from '../../src/api/index.js';
import { invalidObjects, validCheckpoint, validPolicy } from '../fixtures/invalid-objects.js';

/** zod's path in the API server's notation: spec.a.b[0].c */
function dotted(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

describe('the zod schemas refuse what the CRDs refuse', () => {
  it('accepts the valid bases the table starts from', () => {
    expect(checkpointSchema.safeParse(validCheckpoint()).success).toBe(true);
    expect(checkpointPolicySchema.safeParse(validPolicy()).success).toBe(true);
  });

  it.each(invalidObjects.filter((c) => !c.apiServerOnly).map((c) => [c.title, c] as const))('%s', (_title, c) => {
    const schema: z.ZodType = c.kind === 'Checkpoint' ? checkpointSchema : checkpointPolicySchema;
    const result = schema.safeParse(JSON.parse(JSON.stringify(c.object)));
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => dotted(i.path));
    expect(paths).toContain(c.field);
  });
});

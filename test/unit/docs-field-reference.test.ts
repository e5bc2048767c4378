import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderFieldReference } from '../../src/api/field-reference.js';
import { readMarkedSection, replaceMarkedSection } from '../../src/api/marked-section.js';

const referencePath = join(import.meta.dirname, '../../docs/reference.md');

describe('docs/reference.md field reference', () => {
  it('is exactly what the zod schemas generate (run `npm run generate` after changing src/api)', async () => {
    const committed = readMarkedSection(await readFile(referencePath, 'utf8'), 'field-reference');
    expect(committed, 'docs/reference.md is stale: run `npm run generate`').toBe(renderFieldReference().trim());
  });

  it('shows types with enums and bounds, defaults, required fields and CEL rule messages', () => {
    const text = renderFieldReference();
    expect(text).toContain('| `spec.retention.reclaimPolicy` | `Delete` \\| `Retain` | `Delete` |');
    expect(text).toContain('| `spec.retention.maxCount` | integer, 1–10000 |');
    expect(text).toContain('| `spec.target.podName` | string, 1–253 chars, pattern ');
    expect(text).toMatch(/\| `spec\.target\.podName` \|[^\n]*\| \*required\* \| Name of the pod to checkpoint\. \|/);
    expect(text).toContain('| `status.conditions[].reason` |');
    expect(text).toContain('- `spec.storage.pvcTemplate`: pvcTemplate is only valid with backend pvc');
    expect(text).toContain('- `Checkpoint`: metadata.name must be at most 63 characters');
    for (const heading of [
      'Checkpoint spec',
      'Checkpoint status',
      'CheckpointPolicy spec',
      'CheckpointPolicy status',
    ]) {
      expect(text).toContain(`## ${heading}\n`);
    }
  });

  it('keeps every table row to four cells: a | inside a cell is escaped', () => {
    const rows = renderFieldReference()
      .split('\n')
      .filter((l) => l.startsWith('| `'));
    expect(rows.length).toBeGreaterThan(50);
    for (const row of rows) expect(row.split(/(?<!\\)\|/).length, row).toBe(6);
  });
});

describe('marked sections', () => {
  const text = 'before\n<!-- x:start -->\nold\n<!-- x:end -->\nafter\n';

  it('replaces only what lies between the markers, and reads it back', () => {
    const next = replaceMarkedSection(text, 'x', 'new\n');
    expect(next).toBe('before\n<!-- x:start -->\n\nnew\n\n<!-- x:end -->\nafter\n');
    expect(readMarkedSection(next, 'x')).toBe('new');
  });

  it('refuses a file without the markers, or with them twice or out of order', () => {
    expect(() => readMarkedSection('no markers', 'x')).toThrow(/<!-- x:start -->/);
    expect(() => readMarkedSection(text + text, 'x')).toThrow();
    expect(() => readMarkedSection('<!-- x:end --><!-- x:start -->', 'x')).toThrow();
  });
});

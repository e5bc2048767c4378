import { describe, expect, it } from 'vitest';
import { archiveKey } from '../../src/storage/archive-key.js';
import { findOrphans } from '../../src/retention/find-orphans.js';
import type { ListedArchive } from '../../src/storage/backend.js';

const listed = (key: string): ListedArchive => ({ key, sizeBytes: 10, lastModified: new Date(0) });
const keyOf = (name: string, uid: string) =>
  archiveKey({
    checkpoint: { namespace: 'team-a', name, uid },
    target: { namespace: 'team-a', podName: 'web-0', containerName: 'app' },
    time: new Date('2026-06-01T12:00:00Z'),
  });

describe('findOrphans', () => {
  it('finds archives whose owner uid no Checkpoint has', () => {
    const archives = [listed(keyOf('kept', 'uid-1')), listed(keyOf('gone', 'uid-2'))];
    expect(findOrphans(archives, new Set(['uid-1']))).toEqual([archives[1]]);
  });

  it('judges by uid, so a Checkpoint re-created under the same name does not own the old archive', () => {
    const archives = [listed(keyOf('c', 'old-uid')), listed(keyOf('c', 'new-uid'))];
    expect(findOrphans(archives, new Set(['new-uid'])).map((a) => a.key)).toEqual([keyOf('c', 'old-uid')]);
  });

  it('never counts keys outside the layout as orphans: they are not the operator’s', () => {
    const foreign = [
      'notes.txt',
      'team-a/c/uid-9/readme.md',
      'a/b/c/d/e.tar',
      'team-a/c/x.tar',
      '.hidden/x/y/z.tar.partial',
    ].map(listed);
    expect(findOrphans(foreign, new Set())).toEqual([]);
  });

  it('finds nothing in empty storage', () => {
    expect(findOrphans([], new Set(['uid-1']))).toEqual([]);
  });
});

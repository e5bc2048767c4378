import { ownerOfKey } from '../storage/archive-key.js';
import type { ListedArchive } from '../storage/backend.js';

/**
 * The listed archives no Checkpoint owns: their key names an owner uid that is not among
 * ownerUids. Keys outside the operator's layout are never orphans: storage may be shared with
 * other tools, and files the operator did not write are not its to report or delete.
 */
export function findOrphans(listed: readonly ListedArchive[], ownerUids: ReadonlySet<string>): ListedArchive[] {
  return listed.filter((archive) => {
    const owner = ownerOfKey(archive.key);
    return owner !== undefined && !ownerUids.has(owner.uid);
  });
}

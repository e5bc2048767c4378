/**
 * The archive key layout, the same on every backend (after an S3 prefix):
 *
 *   <checkpoint namespace>/<checkpoint name>/<checkpoint uid>/checkpoint-<pod>_<pod namespace>-<container>-<time>.tar
 *
 * The first three segments identify the owning Checkpoint (the uid keeps a re-created Checkpoint
 * of the same name apart), so retention can find a Checkpoint's archives and orphans by listing;
 * the file name is the kubelet's own, so an archive is recognisable on its own.
 */
export function archiveKey(args: {
  checkpoint: { namespace: string; name: string; uid: string };
  target: { namespace: string; podName: string; containerName: string };
  time: Date;
}): string {
  const t = args.time
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  const { checkpoint: c, target } = args;
  return `${c.namespace}/${c.name}/${c.uid}/checkpoint-${target.podName}_${target.namespace}-${target.containerName}-${t}.tar`;
}

/** The owner a key names, or undefined for keys outside the layout. */
export function ownerOfKey(key: string): { namespace: string; name: string; uid: string } | undefined {
  const m = /^([^/]+)\/([^/]+)\/([^/]+)\/[^/]+\.tar$/.exec(key);
  return m ? { namespace: m[1]!, name: m[2]!, uid: m[3]! } : undefined;
}

/**
 * The prefix under which every archive of one Checkpoint lies, and nothing of any other: the
 * trailing slash keeps `ns/app/uid` from matching `ns/app/uid2`.
 */
export function archivePrefix(checkpoint: { namespace: string; name: string; uid: string }): string {
  return `${checkpoint.namespace}/${checkpoint.name}/${checkpoint.uid}/`;
}

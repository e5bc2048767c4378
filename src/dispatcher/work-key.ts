/**
 * What the work queue holds: one thing to reconcile. The queue deduplicates by string, so each key
 * has exactly one encoding, made and read only here. Kubernetes names never contain ':' or '/',
 * which keeps the encoding unambiguous.
 */
export type WorkKey =
  | { kind: 'checkpoint'; namespace: string; name: string }
  /** A pod with a restore annotation. */
  | { kind: 'restore'; namespace: string; name: string }
  | { kind: 'policy'; name: string }
  /** The periodic deletion of finished Jobs. */
  | { kind: 'finishedJobs' };

export function encodeWorkKey(key: WorkKey): string {
  switch (key.kind) {
    case 'checkpoint':
    case 'restore':
      return `${key.kind}:${key.namespace}/${key.name}`;
    case 'policy':
      return `policy:${key.name}`;
    case 'finishedJobs':
      return 'finished-jobs';
  }
}

export function decodeWorkKey(encoded: string): WorkKey {
  if (encoded === 'finished-jobs') return { kind: 'finishedJobs' };
  const colon = encoded.indexOf(':');
  const kind = encoded.slice(0, colon);
  const rest = encoded.slice(colon + 1);
  if (kind === 'policy') return { kind, name: rest };
  if (kind === 'checkpoint' || kind === 'restore') {
    const slash = rest.indexOf('/');
    return { kind, namespace: rest.slice(0, slash), name: rest.slice(slash + 1) };
  }
  throw new Error(`not a work key: ${encoded}`);
}

/** The `namespace/name` of a namespaced key, as reconcilers and logs name objects. */
export const objectKey = (key: { namespace: string; name: string }) => `${key.namespace}/${key.name}`;

import { createHash } from 'node:crypto';

export type JobAction = 'checkpoint' | 'restore' | 'cleanup' | 'sweep';

const MAX_NAME = 63;

/**
 * A deterministic Job name for (action, owner): the same inputs always give the same name, so a
 * dispatcher that restarts mid-way finds the Job it created instead of making a second one. The
 * hash covers the owner's namespace, name and uid: a Checkpoint deleted and re-created under the
 * same name gets a new Job. Readable prefix, at most 63 characters, valid as a label value.
 */
export function jobName(
  action: JobAction,
  owner: { namespace: string; name: string; uid: string },
  discriminator = '',
): string {
  const hash = createHash('sha256')
    .update(`${action}\0${owner.namespace}\0${owner.name}\0${owner.uid}\0${discriminator}`)
    .digest('hex')
    .slice(0, 10);
  const prefix = `${action}-`;
  const room = MAX_NAME - prefix.length - hash.length - 1;
  const readable = owner.name
    .slice(0, room)
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+$/, '');
  return `${prefix}${readable}-${hash}`;
}

/** Label keys put on everything the operator creates. */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  component: 'app.kubernetes.io/component',
  action: 'checkpoint.example.com/action',
  ownerNamespace: 'checkpoint.example.com/owner-namespace',
  ownerName: 'checkpoint.example.com/owner-name',
  ownerUid: 'checkpoint.example.com/owner-uid',
  /** The CheckpointPolicy a claim or sweep belongs to (see policyLabelValue). */
  policy: 'checkpoint.example.com/policy',
} as const;

export const MANAGED_BY = 'checkpoint-operator';

/** Label values are at most 63 characters of [A-Za-z0-9._-]; namespaces and our names already fit. */
export function ownerLabels(
  action: JobAction,
  owner: { namespace: string; name: string; uid: string },
): Record<string, string> {
  return {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.component]: `${action}-job`,
    [LABELS.action]: action,
    [LABELS.ownerNamespace]: owner.namespace,
    [LABELS.ownerName]: owner.name,
    [LABELS.ownerUid]: owner.uid,
  };
}

/** The inverse of ownerLabels: which action a Job does for which object, if its labels say. */
export function jobOwner(
  labels: Record<string, string> | undefined,
): { action: string | undefined; namespace: string; name: string } | undefined {
  const namespace = labels?.[LABELS.ownerNamespace];
  const name = labels?.[LABELS.ownerName];
  return namespace && name ? { action: labels[LABELS.action], namespace, name } : undefined;
}

/** The identities the operator's Jobs run as (manifests/rbac), each allowed only what its action needs. */
export const JOB_SERVICE_ACCOUNTS = {
  checkpoint: 'checkpoint-operator-job',
  cleanup: 'checkpoint-operator-cleanup',
  sweep: 'checkpoint-operator-sweep',
} as const;

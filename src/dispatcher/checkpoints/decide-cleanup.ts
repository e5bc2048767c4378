import type { Checkpoint } from '../../api/checkpoint.js';
import { ARCHIVE_FINALIZER } from '../../api/constants.js';
import { resolveStorage } from '../../api/resolve-storage.js';
import type { CleanupJobInput } from '../../actions/cleanup/job-input.js';
import type { CheckpointPolicySpec } from '../../api/checkpoint-policy.js';
import { parseImageReference } from '../../oci/image-reference.js';
import type { PolicyLookup } from '../policy-lookup.js';
import { planCoversHost, registryPlan, type RegistrySecretRef, type RestoreDefaults } from '../shared/registry-plan.js';
import { isUnderRoots } from './decide.js';
import { type JobFacts } from '../shared/job-facts.js';
import { jobStorage, type S3SecretPlan, s3SecretPlan } from '../shared/job-storage.js';

export type CleanupDecision =
  | { kind: 'nothing' }
  /** Nothing to delete, or the policy keeps archives: the Checkpoint may go. */
  | { kind: 'release'; archive: 'deleted' | 'retained' | 'none'; why: string }
  /** Not yet: the phase stays Deleting with this reason until the obstacle is gone. */
  | { kind: 'hold'; reason: string; message: string; recheckMs?: number }
  | {
      kind: 'startJob';
      input: CleanupJobInput;
      nodeName: string | undefined;
      s3Secrets?: S3SecretPlan;
      /** The Secrets that reach the registry holding the images to delete. */
      registrySecrets?: { credentials?: RegistrySecretRef; caBundle?: RegistrySecretRef };
      /** Images left in the registry because a restored pod still runs them. */
      keptImages: { reference: string; pod: string }[];
    }
  | { kind: 'retryJob'; message: string };

/** A Job that reads the archive must finish before the archive goes. */
const RESTORE_RECHECK_MS = 15_000;

/**
 * What a Checkpoint being deleted needs before its finalizer can go, from facts only. The
 * archive's location comes from what the Checkpoint recorded (node, claim, bucket and key), the
 * way to reach it (endpoint, credentials) from its storage settings as they are now; when the
 * two disagree the archive cannot be found safely, and the Checkpoint waits visibly instead of
 * deleting in the wrong place or forgetting the archive.
 */
export function decideCleanup(args: {
  checkpoint: Checkpoint;
  policy: PolicyLookup | undefined;
  checkpointJob: JobFacts;
  cleanupJob: JobFacts;
  /** Node directories the operator may write to: a recorded path outside them is never touched. */
  localStorageRoots: string[];
  /** How restores reach the registry when the policy says nothing: the images are deleted the same way. */
  restoreDefaults?: RestoreDefaults;
  jobNamespace?: string;
  /** Images of this Checkpoint a restored pod's container still runs, with that pod (`ns/name`). */
  imagesInUse?: Map<string, string>;
}): CleanupDecision {
  const { checkpoint, policy } = args;
  if (!checkpoint.metadata.deletionTimestamp || !checkpoint.metadata.finalizers?.includes(ARCHIVE_FINALIZER))
    return { kind: 'nothing' };
  const status = checkpoint.status;
  // The checkpoint Job may still store an archive: wait for it (it is bounded by its deadline).
  if (args.checkpointJob.exists && args.checkpointJob.outcome === 'running') {
    return {
      kind: 'hold',
      reason: 'CheckpointInProgress',
      message: `waiting for Job ${status?.jobName ?? ''} to finish before removing what it stored`,
    };
  }
  const restoring = (status?.restores ?? []).filter((r) => r.result === 'Pending' || r.result === 'Running');
  if (restoring.length > 0) {
    return {
      kind: 'hold',
      reason: 'RestoreInFlight',
      recheckMs: RESTORE_RECHECK_MS,
      message: `a restore of pod ${restoring.map((r) => `${r.namespace}/${r.podName}`).join(', ')} is reading the archive`,
    };
  }
  // No Job ever ran for it: nothing can have been stored.
  if (!status?.archive && !status?.jobName)
    return { kind: 'release', archive: 'none', why: 'no archive was ever stored' };

  if (policy?.found && policy.policy.spec.retention?.reclaimPolicy === 'Retain') {
    return {
      kind: 'release',
      archive: 'retained',
      why: `CheckpointPolicy ${policy.name} retains archives (reclaimPolicy: Retain)`,
    };
  }
  if (args.cleanupJob.exists) {
    switch (args.cleanupJob.outcome) {
      case 'complete':
        return { kind: 'release', archive: 'deleted', why: 'archive deleted' };
      case 'running':
        return { kind: 'nothing' };
      case 'failed':
        return {
          kind: 'retryJob',
          message: `cleanup Job failed${args.cleanupJob.reason ? ` (${args.cleanupJob.reason})` : ''}${args.cleanupJob.message ? `: ${args.cleanupJob.message}` : ''}`,
        };
    }
  }

  const recorded = status?.archive;
  const nodeName = recorded?.nodeName ?? status?.nodeName;
  let storage: CleanupJobInput['storage'];
  let s3Secrets: S3SecretPlan | undefined;
  if (policy && !policy.found) {
    // A node directory or a claim is fully named by the archive's URI; S3 needs the policy's
    // endpoint and credentials.
    if (recorded?.backend === 'local') storage = { backend: 'local', nodeName: '', path: '' };
    else if (recorded?.backend === 'pvc') storage = { backend: 'pvc', claimName: '' };
    else
      return {
        kind: 'hold',
        reason: 'PolicyNotFound',
        message: `CheckpointPolicy ${policy.name}, which says how to reach the archive's storage, does not exist`,
      };
  } else {
    const policyObject = policy?.found ? policy.policy : undefined;
    const resolved = resolveStorage(
      checkpoint.spec?.storage,
      policyObject ? { name: policyObject.metadata.name, storage: policyObject.spec.storage } : undefined,
    );
    if (!resolved.ok) return { kind: 'hold', reason: resolved.reason, message: resolved.message };
    if (recorded && recorded.backend !== resolved.storage.backend) {
      return {
        kind: 'hold',
        reason: 'StorageChanged',
        message: `the archive is on backend ${recorded.backend} but the storage settings now say ${resolved.storage.backend}`,
      };
    }
    if (resolved.storage.backend === 'local' && !nodeName)
      return { kind: 'release', archive: 'none', why: 'no node ever held an archive' };
    storage = jobStorage(resolved.storage, nodeName ?? '');
    if (resolved.storage.backend === 's3')
      s3Secrets = s3SecretPlan(resolved.storage.s3, checkpoint.metadata.namespace!);
  }
  const located = recorded ? locate(storage, recorded.uri, recorded.key) : { ok: true as const, storage };
  if (!located.ok) return { kind: 'hold', reason: 'StorageChanged', message: located.message };
  if (located.storage.backend === 'local' && !isUnderRoots(located.storage.path, args.localStorageRoots)) {
    return {
      kind: 'hold',
      reason: 'LocalPathNotAllowed',
      message: `the recorded archive directory ${located.storage.path} is outside the directories this operator may write on nodes`,
    };
  }

  const ref = {
    namespace: checkpoint.metadata.namespace!,
    name: checkpoint.metadata.name,
    uid: checkpoint.metadata.uid!,
  };
  const images = imagesToDelete(checkpoint, policy?.found ? policy.policy.spec.restore : undefined, args);
  return {
    kind: 'startJob',
    nodeName: located.storage.backend === 'local' ? located.storage.nodeName : undefined,
    ...(s3Secrets ? { s3Secrets } : {}),
    ...(images.secrets ? { registrySecrets: images.secrets } : {}),
    keptImages: images.kept,
    input: {
      checkpoint: ref,
      storage: located.storage,
      ...(recorded?.key ? { key: recorded.key } : {}),
      ...(images.delete.length > 0
        ? { images: images.delete, registryCredentials: images.secrets?.credentials !== undefined }
        : {}),
    },
  };
}

/** The checkpoint images restores of this Checkpoint pushed, as its restore records name them, once each. */
export function checkpointImages(checkpoint: Checkpoint): string[] {
  const images = new Set<string>();
  for (const r of checkpoint.status?.restores ?? []) {
    if (!r.image) continue;
    try {
      if (parseImageReference(r.image).digest) images.add(r.image);
    } catch {
      // A record no restore wrote: nothing this operator pushed.
    }
  }
  return [...images];
}

/**
 * Which images go with the archive: all those pushed for the Checkpoint, except one a restored
 * pod still runs (its node may need to pull it again). The registry's settings (plain HTTP, CA
 * bundle) apply to images on the registry they name; the push Secret is looked up by host.
 */
function imagesToDelete(
  checkpoint: Checkpoint,
  restore: CheckpointPolicySpec['restore'],
  args: Parameters<typeof decideCleanup>[0],
): {
  delete: NonNullable<CleanupJobInput['images']>;
  kept: { reference: string; pod: string }[];
  secrets: { credentials?: RegistrySecretRef; caBundle?: RegistrySecretRef } | undefined;
} {
  const all = checkpointImages(checkpoint);
  const kept = all.flatMap((reference) => {
    const pod = args.imagesInUse?.get(reference);
    return pod ? [{ reference, pod }] : [];
  });
  const plan = registryPlan(
    restore,
    args.restoreDefaults ?? NO_DEFAULTS,
    args.jobNamespace ?? checkpoint.metadata.namespace!,
  );
  const doomed = all
    .filter((reference) => !args.imagesInUse?.has(reference))
    .map((reference) => {
      const covered = planCoversHost(plan, parseImageReference(reference).host);
      return { reference, insecure: covered && plan.insecure, caBundle: covered && plan.caBundle !== undefined };
    });
  const caBundle = doomed.some((i) => i.caBundle) ? plan.caBundle : undefined;
  const credentials = doomed.length > 0 ? plan.credentials : undefined;
  return {
    delete: doomed,
    kept,
    secrets:
      credentials || caBundle
        ? { ...(credentials ? { credentials } : {}), ...(caBundle ? { caBundle } : {}) }
        : undefined,
  };
}

const NO_DEFAULTS: RestoreDefaults = {
  imageRepository: undefined,
  pushSecret: undefined,
  insecureRegistry: false,
  caBundleSecret: undefined,
};

/**
 * Points the storage at where the archive was written, from its URI: the node and directory for
 * local, the claim for pvc, the bucket and prefix for S3.
 */
function locate(
  storage: CleanupJobInput['storage'],
  uri: string,
  key: string | undefined,
): { ok: true; storage: CleanupJobInput['storage'] } | { ok: false; message: string } {
  // The URI is the backend's base followed by the key (see each backend's uri()).
  const where = key && uri.endsWith(key) ? uri.slice(0, uri.length - key.length) : undefined;
  if (!where) return { ok: false, message: `the recorded archive URI ${uri} does not end with its key` };
  switch (storage.backend) {
    case 'local': {
      const m = /^local:\/\/([^/]+)(\/.*?)\/?$/.exec(where);
      return m
        ? { ok: true, storage: { ...storage, nodeName: m[1]!, path: m[2]! } }
        : { ok: false, message: `unexpected local archive URI ${uri}` };
    }
    case 'pvc': {
      const m = /^pvc:\/\/([^/]+)\/?$/.exec(where);
      return m
        ? { ok: true, storage: { ...storage, claimName: m[1]! } }
        : { ok: false, message: `unexpected pvc archive URI ${uri}` };
    }
    case 's3': {
      const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(where);
      return m
        ? { ok: true, storage: { ...storage, bucket: m[1]!, prefix: m[2]! } }
        : { ok: false, message: `unexpected S3 archive URI ${uri}` };
    }
  }
}

import { createHash } from 'node:crypto';
import type { Checkpoint, RestoreRecord } from '../../api/checkpoint.js';
import type { PolicyLookup } from '../policy-lookup.js';
import { RESTORE_FROM_ANNOTATION, RESTORE_HANDLED_ANNOTATION, RESTORE_STATUS_ANNOTATION } from '../../api/constants.js';
import { resolveStorage } from '../../api/resolve-storage.js';
import type { RestoreJobInput } from '../../actions/restore/job-input.js';
import { restoreJobName } from '../../actions/restore/job.js';
import { checkpointImageTag } from '../../oci/image-reference.js';
import { registryPlan, type RegistrySecretRef, type RestoreDefaults } from '../shared/registry-plan.js';
import { RESTORE_STRATEGY, type RestoreStrategyName } from './strategy.js';
import { type JobFacts } from '../shared/job-facts.js';
import { jobStorage, type S3SecretPlan, s3SecretPlan } from '../shared/job-storage.js';
import { type NodeFacts, restoreSupport } from '../runtime-support.js';

/** What the dispatcher knows about a pod with a restore request, read live. */
export interface RestorePodFacts {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string | undefined;
  nodeName: string | undefined;
  deleting: boolean;
  annotations: Record<string, string>;
  imagePullSecrets: string[];
  containers: { name: string; image: string }[];
  statuses: {
    name: string;
    imageID: string | undefined;
    containerID?: string | undefined;
    running: boolean;
    /** When the current container started running (state.running.startedAt), in ms. */
    runningSince?: number | undefined;
    waitingReason: string | undefined;
    waitingMessage: string | undefined;
    /** The current container ended (state.terminated): its exit code and reason. */
    terminated?: { exitCode: number; reason: string | undefined } | undefined;
  }[];
}

export type { RestoreDefaults } from '../shared/registry-plan.js';

export type RestoreDecision =
  | { kind: 'nothing' }
  /** The request annotation is gone: forget which value was handled, so it can be asked again. */
  | { kind: 'forget' }
  /** A new request that cannot be carried out: report it, touch nothing else. */
  | {
      kind: 'refuse';
      request: string;
      reason: string;
      message: string;
      jobName: string | undefined;
      containerName: string | undefined;
    }
  | {
      kind: 'startJob';
      request: string;
      strategy: RestoreStrategyName;
      input: RestoreJobInput;
      nodeName: string;
      s3Secrets: S3SecretPlan | undefined;
      registrySecret: RegistrySecretRef | undefined;
      registryCaBundle: RegistrySecretRef | undefined;
    }
  | { kind: 'markRunning'; request: string; jobName: string }
  /** The image is pushed: point the container at it by digest; the kubelet recreates it. */
  | {
      kind: 'pointContainer';
      request: string;
      jobName: string;
      containerName: string;
      image: string;
      replacedContainerID: string | undefined;
      originalImage: string;
    }
  /** The node cannot run the checkpoint image: put the original image back (recorded first) and wait until it runs. */
  | {
      kind: 'rollBack';
      request: string;
      jobName: string;
      containerName: string;
      originalImage: string;
      reason: string;
      message: string;
      failedContainerID: string | undefined;
      recorded: boolean;
    }
  | { kind: 'succeed'; request: string; jobName: string; containerName: string; image: string }
  | {
      kind: 'fail';
      request: string;
      jobName: string;
      containerName: string | undefined;
      reason: string;
      message: string;
    }
  | { kind: 'wait'; ms: number };

/** A restore that has not finished by then is failed: nothing stays Pending or Running for ever. */
export const RESTORE_TIMEOUT_MS = 35 * 60_000;
/** How often an in-flight restore is looked at again while the kubelet recreates the container. */
export const RESTORE_POLL_MS = 2_000;
/** A restored container must keep running this long to count: one that exits at once is rolled back. */
export const RESTORE_SETTLE_MS = 3_000;
/** How long the original image may take to run again before the restore fails without it. */
export const ROLLBACK_TIMEOUT_MS = 5 * 60_000;

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/**
 * True when a restore-from value can name a Checkpoint. Anything else must never reach an API
 * path: `team-b/x` or `x/status` would read another resource than the Checkpoint named.
 */
export function isCheckpointName(value: string): boolean {
  return NAME.test(value);
}

/** Longest restore-from value restore-handled records as it is: the longest a name can be. */
const HANDLED_AS_IS_MAX = 253;

/**
 * What restore-handled records for a restore-from value: the value itself, or for a longer one
 * (never a Checkpoint name) its digest. A copy of a value of 128 KiB or more would take the pod's
 * annotations past their 256 KiB limit: the write answering it would fail again and again.
 */
export function handledMarker(request: string): string {
  return request.length <= HANDLED_AS_IS_MAX ? request : `sha256:${createHash('sha256').update(request).digest('hex')}`;
}
const NODE_REJECTIONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerError',
  'CreateContainerConfigError',
  'ErrImageNeverPull',
  'RunContainerError',
  'StartError',
]);

/**
 * Decides the next step of a pod's restore request, from facts only. Each value of the
 * restore-from annotation is acted on once: the pod's restore-handled annotation records which
 * value the restore-status describes.
 */
export function decideRestore(args: {
  pod: RestorePodFacts;
  checkpoint: Checkpoint | undefined;
  policy: PolicyLookup | undefined;
  job: JobFacts;
  defaults: RestoreDefaults;
  jobNamespace: string;
  now: number;
  /** The pod's node as the dispatcher's cache holds it: null when the cache has no such node. */
  node?: NodeFacts | null;
}): RestoreDecision {
  const { pod, checkpoint } = args;
  const request = pod.annotations[RESTORE_FROM_ANNOTATION];
  const handled = pod.annotations[RESTORE_HANDLED_ANNOTATION];
  const status = pod.annotations[RESTORE_STATUS_ANNOTATION];
  if (request === undefined) return handled !== undefined ? { kind: 'forget' } : { kind: 'nothing' };
  if (handledMarker(request) !== handled) return decideNewRequest(args, request);
  if (status === 'Succeeded' || status === 'Failed') return { kind: 'nothing' };

  // In flight. The Checkpoint's record of this attempt holds what the Job found.
  const containerName = checkpoint ? restoredContainer(checkpoint) : undefined;
  if (!checkpoint) {
    return {
      kind: 'fail',
      request,
      jobName: '',
      containerName,
      reason: 'CheckpointDeleted',
      message: `Checkpoint ${pod.namespace}/${request} was deleted during the restore`,
    };
  }
  const record = currentAttempt(checkpoint, pod, request);
  if (!record?.jobName) {
    return {
      kind: 'fail',
      request,
      jobName: '',
      containerName,
      reason: 'RecordLost',
      message: `Checkpoint ${pod.namespace}/${request} no longer records this restore attempt`,
    };
  }
  const jobName = record.jobName;
  const failed = (reason: string, message: string): RestoreDecision => ({
    kind: 'fail',
    request,
    jobName,
    containerName,
    reason,
    message,
  });
  if (record.result === 'Failed')
    return failed(record.reason ?? 'RestoreFailed', record.message ?? 'the restore Job reported a failure');
  const started = Date.parse(record.startTime ?? '');
  if (!Number.isNaN(started) && args.now - started > RESTORE_TIMEOUT_MS) {
    return failed('RestoreTimedOut', `the restore did not finish within ${RESTORE_TIMEOUT_MS / 60_000} minutes`);
  }
  if (!record.image) {
    if (!args.job.exists)
      return failed('JobLost', `restore Job ${jobName} disappeared before it pushed the checkpoint image`);
    switch (args.job.outcome) {
      case 'running':
        return status === 'Pending'
          ? { kind: 'markRunning', request, jobName }
          : { kind: 'wait', ms: RESTORE_POLL_MS * 15 };
      case 'complete':
        return failed('JobResultMissing', `restore Job ${jobName} completed without recording a checkpoint image`);
      case 'failed':
        return failed(
          args.job.reason === 'DeadlineExceeded' ? 'JobDeadlineExceeded' : 'JobFailed',
          `restore Job ${jobName} failed${args.job.reason ? ` (${args.job.reason})` : ''}${args.job.message ? `: ${args.job.message}` : ''}`,
        );
    }
  }
  return decideOnNode(pod, record, request, jobName, containerName ?? '', args.now);
}

/** After the push: point the container at the image, then watch the kubelet recreate it; roll back if it cannot. */
function decideOnNode(
  pod: RestorePodFacts,
  record: RestoreRecord,
  request: string,
  jobName: string,
  containerName: string,
  now: number,
): RestoreDecision {
  const image = record.image!;
  const failed = (reason: string, message: string): RestoreDecision => ({
    kind: 'fail',
    request,
    jobName,
    containerName,
    reason,
    message,
  });
  if (pod.deleting) return failed('PodTerminating', `pod ${pod.namespace}/${pod.name} is being deleted`);
  const spec = pod.containers.find((c) => c.name === containerName);
  if (!spec) return failed('ContainerNotInPod', `pod ${pod.namespace}/${pod.name} has no container ${containerName}`);
  const state = pod.statuses.find((s) => s.name === containerName);
  if (record.rollbackReason)
    return decideRollback(pod, record, spec.image, state, request, jobName, containerName, now);

  const view = {
    image: spec.image,
    imageID: state?.imageID,
    containerID: state?.containerID,
    running: Boolean(state?.running),
  };
  const strategy = RESTORE_STRATEGY[record.strategy ?? 'CheckpointImage'];
  const change = strategy.podChange(view, image);
  if (change) {
    return {
      kind: 'pointContainer',
      request,
      jobName,
      containerName,
      image: change.image,
      replacedContainerID: state?.containerID || undefined,
      originalImage: spec.image,
    };
  }
  const rollBack = (reason: string, message: string): RestoreDecision =>
    record.originalImage
      ? {
          kind: 'rollBack',
          request,
          jobName,
          containerName,
          originalImage: record.originalImage,
          reason,
          message,
          failedContainerID: state?.containerID || undefined,
          recorded: false,
        }
      : // Attempts recorded before original images were: nothing to put back.
        failed(reason, message);
  if (strategy.restored(view, image, record.replacedContainerID)) {
    // Running from the image; counted once it has stayed up a moment (a process that exits at once is not restored).
    if (state?.runningSince === undefined || now - state.runningSince >= RESTORE_SETTLE_MS)
      return { kind: 'succeed', request, jobName, containerName, image };
    return { kind: 'wait', ms: RESTORE_SETTLE_MS };
  }
  if (state?.waitingReason && NODE_REJECTIONS.has(state.waitingReason)) {
    return rollBack(
      'NodeRejectedImage',
      `the node could not restore container ${containerName} from ${image}: ${state.waitingReason}${state.waitingMessage ? `: ${state.waitingMessage}` : ''}`,
    );
  }
  const newContainer = state?.containerID && state.containerID !== record.replacedContainerID;
  if (newContainer && (state.terminated || state.waitingReason === 'CrashLoopBackOff')) {
    const how = state.terminated
      ? `exited (code ${state.terminated.exitCode}${state.terminated.reason ? `, ${state.terminated.reason}` : ''})`
      : 'keeps exiting (CrashLoopBackOff)';
    return rollBack(
      'RestoredProcessExited',
      `container ${containerName} restored from ${image} ${how}${state.waitingMessage ? `: ${state.waitingMessage}` : ''}`,
    );
  }
  return { kind: 'wait', ms: RESTORE_POLL_MS };
}

/** Rolling back: the original image goes back, and the restore fails once it runs again (or does not in time). */
function decideRollback(
  pod: RestorePodFacts,
  record: RestoreRecord,
  specImage: string,
  state: RestorePodFacts['statuses'][number] | undefined,
  request: string,
  jobName: string,
  containerName: string,
  now: number,
): RestoreDecision {
  const original = record.originalImage!;
  const cause = `${record.rollbackMessage ?? record.rollbackReason}`;
  if (specImage !== original) {
    return {
      kind: 'rollBack',
      request,
      jobName,
      containerName,
      originalImage: original,
      reason: record.rollbackReason!,
      message: cause,
      failedContainerID: record.rollbackFromContainerID,
      recorded: true,
    };
  }
  const runsAgain =
    state?.running &&
    state.containerID &&
    state.containerID !== record.rollbackFromContainerID &&
    state.containerID !== record.replacedContainerID;
  if (runsAgain) {
    return {
      kind: 'fail',
      request,
      jobName,
      containerName,
      reason: record.rollbackReason!,
      message: `${cause}; rolled back: container ${containerName} runs its original image ${original} again`,
    };
  }
  const since = Date.parse(record.rollbackTime ?? '');
  if (!Number.isNaN(since) && now - since > ROLLBACK_TIMEOUT_MS) {
    return {
      kind: 'fail',
      request,
      jobName,
      containerName,
      reason: 'RollbackFailed',
      message: `${cause}; the original image ${original} was put back but container ${containerName} does not run after ${ROLLBACK_TIMEOUT_MS / 60_000} minutes${state?.waitingReason ? ` (${state.waitingReason}${state.waitingMessage ? `: ${state.waitingMessage}` : ''})` : ''}`,
    };
  }
  return { kind: 'wait', ms: RESTORE_POLL_MS };
}

function decideNewRequest(args: Parameters<typeof decideRestore>[0], request: string): RestoreDecision {
  const { pod, checkpoint, policy } = args;
  const refuse = (reason: string, message: string, jobName?: string, containerName?: string): RestoreDecision => ({
    kind: 'refuse',
    request,
    reason,
    message,
    jobName,
    containerName,
  });
  if (!isCheckpointName(request))
    return refuse(
      'InvalidRequest',
      `restore-from must name a Checkpoint in namespace ${pod.namespace} (got ${JSON.stringify(request.slice(0, 80))})`,
    );
  if (!checkpoint) return refuse('CheckpointNotFound', `Checkpoint ${pod.namespace}/${request} does not exist`);
  const attempts = attemptsOf(checkpoint, pod, request);
  const jobName = restoreJobName(
    pod,
    request,
    checkpoint.metadata.uid!,
    attempts.filter((r) => r.result === 'Succeeded' || r.result === 'Failed').length,
  );
  const containerName = restoredContainer(checkpoint);
  const refuseFor = (reason: string, message: string) => refuse(reason, message, jobName, containerName);
  if (checkpoint.metadata.deletionTimestamp)
    return refuseFor('CheckpointDeleting', `Checkpoint ${pod.namespace}/${request} is being deleted`);
  const archive = checkpoint.status?.archive;
  if (checkpoint.status?.phase !== 'Succeeded' || !archive) {
    return refuseFor(
      'CheckpointNotReady',
      `Checkpoint ${pod.namespace}/${request} is ${checkpoint.status?.phase ?? 'Pending'}: only a Succeeded Checkpoint can be restored`,
    );
  }
  if (!containerName || !pod.containers.some((c) => c.name === containerName)) {
    return refuseFor(
      'ContainerNotInPod',
      `pod ${pod.namespace}/${pod.name} has no container ${containerName ?? '(unknown)'}, the container Checkpoint ${request} holds`,
    );
  }
  if (pod.deleting) return refuseFor('PodTerminating', `pod ${pod.namespace}/${pod.name} is being deleted`);
  if (!pod.nodeName) return refuseFor('PodNotScheduled', `pod ${pod.namespace}/${pod.name} is not on a node yet`);
  // Before anything is pushed or the pod touched: can the pod's node restore at all?
  if (args.node === null)
    return refuseFor(
      'NodeNotFound',
      `node ${pod.nodeName}, where pod ${pod.namespace}/${pod.name} runs, does not exist`,
    );
  if (args.node) {
    const support = restoreSupport(args.node);
    if (!support.ok) return refuseFor(support.reason, support.message);
  }
  if (policy && !policy.found) return refuseFor('PolicyNotFound', `CheckpointPolicy ${policy.name} does not exist`);
  const policyObject = policy?.found ? policy.policy : undefined;

  const settings = policyObject?.spec.restore;
  const registry = registryPlan(settings, args.defaults, args.jobNamespace);
  const repository = registry.repository;
  if (!repository) {
    return refuseFor(
      'RestoreNotConfigured',
      `no image repository for checkpoint images: set spec.restore.imageRepository on ${policyObject ? `CheckpointPolicy ${policyObject.metadata.name}` : 'a CheckpointPolicy the Checkpoint cites'} or the operator's RESTORE_IMAGE_REPOSITORY`,
    );
  }
  if (settings?.pullSecretName && !pod.imagePullSecrets.includes(settings.pullSecretName)) {
    // Pull Secrets cannot be added to a running pod: say so before anything is pushed.
    return refuseFor(
      'PullSecretNotInPod',
      `pod ${pod.namespace}/${pod.name} does not list image pull Secret ${settings.pullSecretName}, which nodes need to pull checkpoint images from ${repository}`,
    );
  }
  const storage = resolveStorage(
    checkpoint.spec.storage,
    policyObject ? { name: policyObject.metadata.name, storage: policyObject.spec.storage } : undefined,
  );
  if (!storage.ok || storage.storage.backend !== archive.backend) {
    return refuseFor(
      'ArchiveLocationUnknown',
      `the storage settings of Checkpoint ${request} no longer lead to its ${archive.backend} archive at ${archive.uri}`,
    );
  }
  const archiveNode = archive.backend === 'local' ? archive.nodeName : pod.nodeName;
  if (!archiveNode)
    return refuseFor('ArchiveLocationUnknown', `the node holding archive ${archive.uri} is not recorded`);
  const key = archive.key ?? keyFromUri(archive.uri, storage.storage.backend);
  if (!key) return refuseFor('ArchiveLocationUnknown', `cannot tell the archive's key from ${archive.uri}`);

  const registrySecret = registry.credentials;
  const registryCaBundle = registry.caBundle;
  const ns = checkpoint.metadata.namespace!;
  return {
    kind: 'startJob',
    request,
    strategy: settings?.strategy ?? 'CheckpointImage',
    nodeName: archiveNode,
    s3Secrets: storage.storage.backend === 's3' ? s3SecretPlan(storage.storage.s3, ns) : undefined,
    registrySecret,
    registryCaBundle,
    input: {
      jobName,
      request,
      checkpoint: { namespace: ns, name: checkpoint.metadata.name, uid: checkpoint.metadata.uid! },
      pod: { namespace: pod.namespace, name: pod.name, uid: pod.uid },
      containerName,
      archive: {
        key,
        uri: archive.uri,
        sizeBytes: archive.sizeBytes,
        sha256: archive.sha256,
        createdAt: archive.createdAt,
      },
      storage: jobStorage(storage.storage, archiveNode),
      registry: {
        repository,
        tag: checkpointImageTag(ns, checkpoint.metadata.name, checkpoint.metadata.uid!),
        insecure: registry.insecure,
        credentials: registrySecret ? 'secret' : 'anonymous',
        caBundle: registryCaBundle !== undefined,
      },
    },
  };
}

/** This pod's attempts at this request, oldest first, as the Checkpoint records them. */
function attemptsOf(checkpoint: Checkpoint, pod: RestorePodFacts, request: string): RestoreRecord[] {
  return (checkpoint.status?.restores ?? []).filter((r) => r.podUid === pod.uid && r.request === request);
}

/** The attempt a pod's in-flight request is on: the newest the Checkpoint records. */
export function currentAttempt(
  checkpoint: Checkpoint,
  pod: RestorePodFacts,
  request: string,
): RestoreRecord | undefined {
  return attemptsOf(checkpoint, pod, request).at(-1);
}

/** The container a Checkpoint holds: recorded once it ran, else as its spec names it. */
export function restoredContainer(checkpoint: Checkpoint): string | undefined {
  return checkpoint.status?.containerName ?? checkpoint.spec?.target?.containerName;
}

/** For archives recorded before keys were: the URI is the backend's base followed by the key. */
function keyFromUri(uri: string, backend: string): string | undefined {
  const m = /^[a-z0-9]+:\/\/[^/]+\/(.+)$/.exec(uri);
  if (!m) return undefined;
  // local://node/<path>/<key> and s3://bucket/<prefix><key>: the key is the last four segments.
  const segments = m[1]!.split('/');
  if (backend === 'pvc' && segments.length === 4) return m[1];
  return segments.length >= 4 ? segments.slice(-4).join('/') : undefined;
}

import { checkpointSpecSchema, type Checkpoint, type CheckpointStatus } from '../../api/checkpoint.js';
import { resolveStorage } from '../../api/resolve-storage.js';
import { chooseContainer, resolveTarget } from '../../api/resolve-target.js';
import type { CheckpointJobInput } from '../../actions/checkpoint/job-input.js';
import type { PolicyLookup } from '../policy-lookup.js';
import type { JobFacts } from '../shared/job-facts.js';
import { jobStorage, type S3SecretPlan, s3SecretPlan } from '../shared/job-storage.js';
import { containerKey } from './busy-containers.js';
import { checkpointSupport, type NodeFacts } from '../runtime-support.js';

/** What the reconciler knows about the target pod, read live (pods are not cached). */
export type PodFacts =
  | { found: false }
  | {
      found: true;
      nodeName: string | undefined;
      phase: string | undefined;
      deleting: boolean;
      containers: { name: string }[];
      runningContainers: string[];
    };

export interface DecideSettings {
  kubeletAccess: 'direct' | 'proxy';
  kubeletPort: number;
  kubeletCABundleSecret?: string | undefined;
  kubeletInsecureSkipTLSVerify?: boolean;
  /** Node directories the local backend may write to; a path outside them is refused. */
  localStorageRoots: string[];
}

export type CheckpointDecision =
  | { kind: 'nothing' }
  | { kind: 'fail'; reason: string; message: string }
  | { kind: 'startJob'; input: CheckpointJobInput; containerName: string; nodeName: string; s3Secrets?: S3SecretPlan }
  | { kind: 'markRunning'; jobName: string }
  | { kind: 'wait' }
  | { kind: 'waitForContainer'; container: string; holder: string }
  | { kind: 'waitForNodeSlot'; node: string; running: number }
  | { kind: 'jobFinishedWithoutResult'; reason: string; message: string };

export const isTerminal = (status: CheckpointStatus | undefined) =>
  status?.phase === 'Succeeded' || status?.phase === 'Failed';

/**
 * Decides what a non-terminal Checkpoint needs next, from facts only. The order of checks is the
 * order a user would fix things in: the spec, the policy, permissions, storage, then the pod.
 */
export function decideCheckpoint(args: {
  checkpoint: Checkpoint;
  policy: PolicyLookup | undefined;
  pod: PodFacts;
  job: JobFacts;
  expectedJobName: string;
  settings: DecideSettings;
  /** The other Checkpoint (`namespace/name`) checkpointing a container right now, if any. */
  containerHeldBy?: (container: string) => string | undefined;
  /** How many other Checkpoints' Jobs fill the node's slots, when they are all taken. */
  nodeFull?: (node: string) => number | undefined;
  /** The pod's node as the dispatcher's cache holds it: null when the cache has no such node. */
  node?: NodeFacts | null;
}): CheckpointDecision {
  const { checkpoint, policy, pod, job, settings } = args;
  if (isTerminal(checkpoint.status)) return { kind: 'nothing' };

  if (job.exists) {
    // A Job pinned to a node that was removed can never run there: its pod waits, unscheduled,
    // until the Job's deadline. Say so now.
    if (job.outcome === 'running' && args.node === null) {
      const node = checkpoint.status?.nodeName;
      return {
        kind: 'jobFinishedWithoutResult',
        reason: 'NodeLost',
        message: `node ${node ?? '(unknown)'} was removed from the cluster before Job ${args.expectedJobName} could checkpoint there`,
      };
    }
    return decideFromJob(checkpoint, job, args.expectedJobName);
  }
  // A Checkpoint already Running whose Job vanished cannot finish: its Job is the only writer.
  if (checkpoint.status?.phase === 'Running') {
    return {
      kind: 'fail',
      reason: 'JobLost',
      message: `Job ${checkpoint.status.jobName ?? args.expectedJobName} disappeared before it reported a result`,
    };
  }

  const spec = checkpointSpecSchema.safeParse(checkpoint.spec);
  if (!spec.success) {
    const issue = spec.error.issues[0]!;
    return { kind: 'fail', reason: 'InvalidSpec', message: `spec.${issue.path.join('.')}: ${issue.message}` };
  }
  if (policy && !policy.found) {
    return { kind: 'fail', reason: 'PolicyNotFound', message: `CheckpointPolicy ${policy.name} does not exist` };
  }
  const policyObject = policy?.found ? policy.policy : undefined;
  const namespace = checkpoint.metadata.namespace!;
  const target = resolveTarget(namespace, spec.data.target);
  if (target.namespace !== namespace) {
    const allowed = policyObject?.spec.targetNamespaces ?? [];
    if (!allowed.includes(target.namespace)) {
      return {
        kind: 'fail',
        reason: 'CrossNamespaceDenied',
        message: policyObject
          ? `CheckpointPolicy ${policyObject.metadata.name} does not list namespace ${target.namespace} in targetNamespaces`
          : `a Checkpoint in ${namespace} may target pods in ${target.namespace} only through a policy that lists it in targetNamespaces`,
      };
    }
  }
  const storage = resolveStorage(
    spec.data.storage,
    policyObject ? { name: policyObject.metadata.name, storage: policyObject.spec.storage } : undefined,
  );
  if (!storage.ok) return { kind: 'fail', reason: storage.reason, message: storage.message };
  if (storage.storage.backend === 'local' && !isUnderRoots(storage.storage.local.path, settings.localStorageRoots)) {
    return {
      kind: 'fail',
      reason: 'LocalPathNotAllowed',
      message: `local path ${storage.storage.local.path} is outside the directories this operator may write on nodes (${settings.localStorageRoots.join(', ')})`,
    };
  }

  if (!pod.found)
    return { kind: 'fail', reason: 'PodNotFound', message: `pod ${target.namespace}/${target.podName} does not exist` };
  if (pod.deleting)
    return {
      kind: 'fail',
      reason: 'PodTerminating',
      message: `pod ${target.namespace}/${target.podName} is being deleted`,
    };
  const container = chooseContainer(target.containerName, pod.containers, target.podName);
  if (!container.ok) return { kind: 'fail', reason: container.reason, message: container.message };
  if (!pod.nodeName || pod.phase !== 'Running' || !pod.runningContainers.includes(container.containerName)) {
    return {
      kind: 'fail',
      reason: 'ContainerNotRunning',
      message: `container ${container.containerName} of pod ${target.namespace}/${target.podName} is not running (pod phase ${pod.phase ?? 'unknown'})`,
    };
  }
  // Before any Job: a node whose kubelet or runtime cannot checkpoint is refused with the reason.
  if (args.node === null)
    return {
      kind: 'fail',
      reason: 'NodeNotFound',
      message: `node ${pod.nodeName}, where pod ${target.namespace}/${target.podName} runs, does not exist`,
    };
  if (args.node) {
    const support = checkpointSupport(args.node);
    if (!support.ok) return { kind: 'fail', reason: support.reason, message: support.message };
  }
  const busyKey = containerKey(target.namespace, target.podName, container.containerName);
  const holder = args.containerHeldBy?.(busyKey);
  if (holder) return { kind: 'waitForContainer', container: busyKey, holder };
  const running = args.nodeFull?.(pod.nodeName);
  if (running !== undefined) return { kind: 'waitForNodeSlot', node: pod.nodeName, running };
  return {
    kind: 'startJob',
    containerName: container.containerName,
    nodeName: pod.nodeName,
    ...(storage.storage.backend === 's3' ? { s3Secrets: s3SecretPlan(storage.storage.s3, namespace) } : {}),
    input: {
      checkpoint: { namespace, name: checkpoint.metadata.name, uid: checkpoint.metadata.uid! },
      target: { namespace: target.namespace, podName: target.podName, containerName: container.containerName },
      nodeName: pod.nodeName,
      kubelet: {
        access: settings.kubeletAccess,
        port: settings.kubeletPort,
        ...(spec.data.timeoutSeconds ? { timeoutSeconds: spec.data.timeoutSeconds } : {}),
        insecureSkipTLSVerify: settings.kubeletAccess === 'direct' && settings.kubeletInsecureSkipTLSVerify === true,
        ...(settings.kubeletAccess === 'direct' && settings.kubeletCABundleSecret
          ? { caBundleSecret: settings.kubeletCABundleSecret }
          : {}),
      },
      storage: jobStorage(storage.storage, pod.nodeName),
    },
  };
}

function decideFromJob(
  checkpoint: Checkpoint,
  job: Exclude<JobFacts, { exists: false }>,
  jobName: string,
): CheckpointDecision {
  switch (job.outcome) {
    case 'running':
      return checkpoint.status?.phase === 'Running' ? { kind: 'wait' } : { kind: 'markRunning', jobName };
    case 'complete':
      // The Job writes Succeeded before it exits; a complete Job without it broke its contract.
      return {
        kind: 'jobFinishedWithoutResult',
        reason: 'JobResultMissing',
        message: `Job ${jobName} completed without recording an archive`,
      };
    case 'failed':
      return {
        kind: 'jobFinishedWithoutResult',
        reason: job.reason === 'DeadlineExceeded' ? 'JobDeadlineExceeded' : 'JobFailed',
        message: `Job ${jobName} failed${job.reason ? ` (${job.reason})` : ''}${job.message ? `: ${job.message}` : ''}`,
      };
  }
}

export function isUnderRoots(path: string, roots: string[]): boolean {
  return roots.some((root) => path === root || path.startsWith(root.endsWith('/') ? root : `${root}/`));
}

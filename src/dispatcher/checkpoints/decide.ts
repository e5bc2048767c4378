import type { V1Job } from '@kubernetes/client-node';
import { checkpointSpecSchema, type Checkpoint, type CheckpointStatus } from '../../api/checkpoint.js';
import { resolveStorage, type ResolvedStorage } from '../../api/resolve-storage.js';
import { chooseContainer, resolveTarget } from '../../api/resolve-target.js';
import type { CheckpointJobInput, JobStorage } from '../../jobs-contract/checkpoint-job-input.js';
import type { PolicyLookup } from '../policy-lookup.js';
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

/** The Job's terminal condition, as the Job controller reports it. */
export type JobFacts =
  | { exists: false }
  | { exists: true; outcome: 'running' }
  | { exists: true; outcome: 'complete' }
  | { exists: true; outcome: 'failed'; reason: string | undefined; message: string | undefined };

export interface DecideSettings {
  kubeletAccess: 'direct' | 'proxy';
  kubeletPort: number;
  kubeletCABundleSecret?: string | undefined;
  kubeletInsecureSkipTLSVerify?: boolean;
  /** Node directories the local backend may write to; a path outside them is refused. */
  localStorageRoots: string[];
}

/**
 * Secrets an S3 Job needs, by where they live. The dispatcher copies them into a per-Job Secret
 * in the Jobs' namespace: a Pod can only mount Secrets of its own namespace.
 */
export interface S3SecretPlan {
  credentials?: { namespace: string; name: string };
  caBundle?: { namespace: string; name: string; key: string };
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

export const isTerminal = (status: CheckpointStatus | undefined) => status?.phase === 'Succeeded' || status?.phase === 'Failed';

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
      return { kind: 'jobFinishedWithoutResult', reason: 'NodeLost', message: `node ${node ?? '(unknown)'} was removed from the cluster before Job ${args.expectedJobName} could checkpoint there` };
    }
    return decideFromJob(checkpoint, job, args.expectedJobName);
  }
  // A Checkpoint already Running whose Job vanished cannot finish: its Job is the only writer.
  if (checkpoint.status?.phase === 'Running') {
    return { kind: 'fail', reason: 'JobLost', message: `Job ${checkpoint.status.jobName ?? args.expectedJobName} disappeared before it reported a result` };
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
  const storage = resolveStorage(spec.data.storage, policyObject ? { name: policyObject.metadata.name, storage: policyObject.spec.storage } : undefined);
  if (!storage.ok) return { kind: 'fail', reason: storage.reason, message: storage.message };
  if (storage.storage.backend === 'local' && !isUnderRoots(storage.storage.local.path, settings.localStorageRoots)) {
    return {
      kind: 'fail',
      reason: 'LocalPathNotAllowed',
      message: `local path ${storage.storage.local.path} is outside the directories this operator may write on nodes (${settings.localStorageRoots.join(', ')})`,
    };
  }

  if (!pod.found) return { kind: 'fail', reason: 'PodNotFound', message: `pod ${target.namespace}/${target.podName} does not exist` };
  if (pod.deleting) return { kind: 'fail', reason: 'PodTerminating', message: `pod ${target.namespace}/${target.podName} is being deleted` };
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
  if (args.node === null) return { kind: 'fail', reason: 'NodeNotFound', message: `node ${pod.nodeName}, where pod ${target.namespace}/${target.podName} runs, does not exist` };
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
        ...(settings.kubeletAccess === 'direct' && settings.kubeletCABundleSecret ? { caBundleSecret: settings.kubeletCABundleSecret } : {}),
      },
      storage: jobStorage(storage.storage, pod.nodeName),
    },
  };
}

function decideFromJob(checkpoint: Checkpoint, job: Exclude<JobFacts, { exists: false }>, jobName: string): CheckpointDecision {
  switch (job.outcome) {
    case 'running':
      return checkpoint.status?.phase === 'Running' ? { kind: 'wait' } : { kind: 'markRunning', jobName };
    case 'complete':
      // The Job writes Succeeded before it exits; a complete Job without it broke its contract.
      return { kind: 'jobFinishedWithoutResult', reason: 'JobResultMissing', message: `Job ${jobName} completed without recording an archive` };
    case 'failed':
      return {
        kind: 'jobFinishedWithoutResult',
        reason: job.reason === 'DeadlineExceeded' ? 'JobDeadlineExceeded' : 'JobFailed',
        message: `Job ${jobName} failed${job.reason ? ` (${job.reason})` : ''}${job.message ? `: ${job.message}` : ''}`,
      };
  }
}

export function jobStorage(storage: ResolvedStorage, nodeName: string): JobStorage {
  switch (storage.backend) {
    case 'local':
      return { backend: 'local', nodeName, path: storage.local.path };
    case 'pvc':
      return { backend: 'pvc', claimName: 'claimName' in storage.pvc ? storage.pvc.claimName : policyClaimName(storage.pvc.policyName) };
    case 's3': {
      const { credentialsSecretRef: _c, caBundleSecretRef: _ca, ...s3 } = storage.s3;
      // The executor sets credentials and caBundle once it knows which Secrets it mounted.
      return { backend: 's3', ...s3, prefix: s3.prefix ?? '', credentials: 'ambient', caBundle: false };
    }
  }
}

/** A Checkpoint's references name Secrets in its own namespace; a policy's say where. */
export function s3SecretPlan(s3: Extract<ResolvedStorage, { backend: 's3' }>['s3'], checkpointNamespace: string): S3SecretPlan {
  const plan: S3SecretPlan = {};
  if (s3.credentialsSecretRef) {
    plan.credentials = { namespace: s3.credentialsSecretRef.namespace ?? checkpointNamespace, name: s3.credentialsSecretRef.name };
  }
  if (s3.caBundleSecretRef) {
    const ref = s3.caBundleSecretRef as { namespace?: string; name: string; key?: string };
    plan.caBundle = { namespace: ref.namespace ?? checkpointNamespace, name: ref.name, key: ref.key ?? 'ca.crt' };
  }
  return plan;
}

/** The claim the operator creates from a policy's pvcTemplate, in the Jobs' namespace. */
export function policyClaimName(policyName: string): string {
  return `checkpoint-archives-${policyName}`.slice(0, 253);
}

export function isUnderRoots(path: string, roots: string[]): boolean {
  return roots.some((root) => path === root || path.startsWith(root.endsWith('/') ? root : `${root}/`));
}

/** Reads the Job controller's verdict from a Job's conditions. */
export function jobFacts(job: V1Job | undefined): JobFacts {
  if (!job) return { exists: false };
  const conditions = job.status?.conditions ?? [];
  const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  if (failed) return { exists: true, outcome: 'failed', reason: failed.reason, message: failed.message };
  if (conditions.some((c) => c.type === 'Complete' && c.status === 'True')) return { exists: true, outcome: 'complete' };
  return { exists: true, outcome: 'running' };
}

import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { NodeLister } from '../runtime-support.js';
import type { Checkpoint, RestoreRecord } from '../../api/checkpoint.js';
import type { CheckpointPolicy } from '../../api/checkpoint-policy.js';
import {
  API_GROUP_VERSION,
  CHECKPOINT_KIND,
  RESTORE_FROM_ANNOTATION,
  RESTORE_HANDLED_ANNOTATION,
  RESTORE_MESSAGE_ANNOTATION,
  RESTORE_STATUS_ANNOTATION,
  RESTORED_FROM_ANNOTATION,
} from '../../api/constants.js';
import type { Clock } from '../../clock/clock.js';
import type { JobSettings } from '../../actions/shared/action-job.js';
import { isNotFound } from '../../kube/errors.js';
import type { EventRecorder } from '../../kube/events.js';
import type { Lister } from '../../kube/lister.js';
import { apiPaths } from '../../kube/paths.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';
import { ownerLabels } from '../../kube/names.js';
import { buildRestoreJob } from '../../actions/restore/job.js';
import { upsertRestoreRecord } from '../../status/restore-records.js';
import type { ReconcileOutcome } from '../../kube/work-queue.js';
import { lookUpPolicy, type PolicyLookup } from '../policy-lookup.js';
import type { Logger } from '../../observability/logger.js';
import { activeTraceContext } from '../../observability/tracing.js';
import { jobFacts } from '../shared/job-facts.js';
import { jobSecretContent, readSecretData } from '../shared/job-secrets.js';
import { launchJob } from '../shared/launch-job.js';
import { readRegistrySecretData } from '../shared/registry-job-secret.js';
import {
  currentAttempt,
  decideRestore,
  handledMarker,
  isCheckpointName,
  type RestoreDecision,
  type RestoreDefaults,
  type RestorePodFacts,
} from './decide.js';

export interface RestoreReconcilerDeps {
  checkpoints: Lister<Checkpoint>;
  policies: Lister<CheckpointPolicy>;
  jobs: Lister<V1Job>;
  lean: LeanKubeClient;
  /** For the one strategic-merge patch (a container's image), which the lean client does not speak. */
  events: EventRecorder;
  clock: Clock;
  log: Logger;
  jobSettings: JobSettings;
  defaults: RestoreDefaults;
  s3DefaultCredentialsSecret: string;
  /** What each node's runtime can do (see runtime-support.ts). */
  nodes: NodeLister;
  /** Counts each restore result once (the leader is the only one reconciling). */
  onResult?: (result: 'success' | 'failed') => void;
}

/** While the Job runs, Job and Checkpoint watches drive progress; this only catches a missed event. */
const RESYNC_MS = 30_000;

/**
 * Reconciles one pod's restore request: reads the pod live (pods are not cached), lets
 * `decideRestore` choose, then applies that one decision. Every step is safe to repeat: the Job
 * has a deterministic name, records are keyed by it, and pod writes are pinned to the
 * resourceVersion decided from.
 */
export class RestoreReconciler {
  constructor(private readonly deps: RestoreReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileOutcome> {
    const [namespace, name] = key.split('/') as [string, string];
    const pod = await this.readPod(namespace, name);
    if (!pod) return { kind: 'done' };
    const facts = podFacts(pod);
    const request = facts.annotations[RESTORE_FROM_ANNOTATION];
    const inFlight = request !== undefined && facts.annotations[RESTORE_HANDLED_ANNOTATION] === handledMarker(request);
    // In flight, the Job writes the Checkpoint's record: read it live rather than trust a lagging cache.
    // A value that is no Checkpoint name is refused without any read.
    const checkpoint =
      request === undefined || !isCheckpointName(request)
        ? undefined
        : inFlight
          ? await this.readCheckpoint(namespace, request)
          : (this.deps.checkpoints.get(request, namespace) ?? (await this.readCheckpoint(namespace, request)));
    const policyRef = checkpoint?.spec?.policyRef;
    const policy: PolicyLookup | undefined = !inFlight && policyRef ? await this.lookUpPolicy(policyRef) : undefined;
    const jobName = inFlight && checkpoint ? currentAttempt(checkpoint, facts, request)?.jobName : undefined;
    const job = jobName
      ? (this.deps.jobs.get(jobName, this.deps.jobSettings.namespace) ?? (await this.readJob(jobName)))
      : undefined;

    const decision = decideRestore({
      pod: facts,
      checkpoint,
      policy,
      job: jobFacts(job),
      defaults: this.deps.defaults,
      jobNamespace: this.deps.jobSettings.namespace,
      now: this.deps.clock.now(),
      node: facts.nodeName ? this.deps.nodes.node(facts.nodeName) : undefined,
    });
    const log = this.deps.log.child({ namespace, name, action: 'restore' });
    if (decision.kind !== 'nothing' && decision.kind !== 'wait') log.debug({ decision: decision.kind }, 'decided');
    return this.apply(facts, checkpoint, decision, log);
  }

  private async apply(
    pod: RestorePodFacts,
    checkpoint: Checkpoint | undefined,
    decision: RestoreDecision,
    log: Logger,
  ): Promise<ReconcileOutcome> {
    const now = new Date(this.deps.clock.now()).toISOString();
    switch (decision.kind) {
      case 'nothing':
        return { kind: 'done' };
      case 'wait':
        return { kind: 'requeueAfter', ms: decision.ms };
      case 'forget':
        await this.annotate(pod, { [RESTORE_HANDLED_ANNOTATION]: null });
        return { kind: 'done' };
      case 'refuse':
      case 'fail': {
        // The record first, the pod last: the pod's restore-status is what users wait on.
        if (checkpoint && decision.jobName) {
          await this.record(checkpoint, decision.jobName, (r) => ({
            ...base(pod, decision.request, decision.containerName, r, now),
            result: 'Failed',
            reason: decision.reason,
            message: decision.message,
            completionTime: now,
          }));
          this.checkpointEvent(
            checkpoint,
            'Warning',
            decision.reason,
            `restore of pod ${pod.namespace}/${pod.name} failed: ${decision.message}`,
          );
        }
        await this.annotate(pod, {
          [RESTORE_HANDLED_ANNOTATION]: handledMarker(decision.request),
          [RESTORE_STATUS_ANNOTATION]: 'Failed',
          [RESTORE_MESSAGE_ANNOTATION]: `${decision.reason}: ${decision.message}`.slice(0, 1024),
        });
        this.podEvent(pod, 'Warning', decision.reason, decision.message);
        log.warn(
          { reason: decision.reason, checkpoint: decision.request.slice(0, 253) },
          `restore failed: ${decision.message}`,
        );
        this.deps.onResult?.('failed');
        return { kind: 'done' };
      }
      case 'startJob':
        return this.startJob(pod, checkpoint!, decision, now, log);
      case 'markRunning':
        await this.annotate(pod, {
          [RESTORE_STATUS_ANNOTATION]: 'Running',
          [RESTORE_MESSAGE_ANNOTATION]: `JobRunning: restore Job ${decision.jobName} is preparing the checkpoint image`,
        });
        return { kind: 'requeueAfter', ms: RESYNC_MS };
      case 'pointContainer': {
        // Recorded before the pod changes: the container the kubelet replaces must be known
        // before any replacement can be seen.
        if (checkpoint) {
          await this.record(checkpoint, decision.jobName, (r) => ({
            ...base(pod, decision.request, decision.containerName, r, now),
            ...(decision.replacedContainerID ? { replacedContainerID: decision.replacedContainerID } : {}),
            originalImage: decision.originalImage,
          }));
        }
        await this.deps.lean.strategicMergePatch(apiPaths.pod(pod), {
          metadata: {
            resourceVersion: pod.resourceVersion,
            annotations: {
              [RESTORE_STATUS_ANNOTATION]: 'Running',
              [RESTORE_MESSAGE_ANNOTATION]: `ImagePushed: container ${decision.containerName} is being recreated from ${decision.image}`,
            },
          },
          spec: { containers: [{ name: decision.containerName, image: decision.image }] },
        });
        this.podEvent(
          pod,
          'Normal',
          'Restoring',
          `container ${decision.containerName} now runs checkpoint image ${decision.image}`,
        );
        log.info(
          { image: decision.image, container: decision.containerName },
          'container pointed at the checkpoint image',
        );
        return { kind: 'requeueAfter', ms: 2_000 };
      }
      case 'rollBack': {
        // Recorded before the pod changes, so a restarted dispatcher goes on rolling back.
        if (checkpoint && !decision.recorded) {
          await this.record(checkpoint, decision.jobName, (r) => ({
            ...base(pod, decision.request, decision.containerName, r, now),
            rollbackReason: decision.reason,
            rollbackMessage: decision.message,
            rollbackTime: now,
            ...(decision.failedContainerID ? { rollbackFromContainerID: decision.failedContainerID } : {}),
          }));
          this.checkpointEvent(
            checkpoint,
            'Warning',
            'RollingBack',
            `restore of pod ${pod.namespace}/${pod.name} failed on its node; putting image ${decision.originalImage} back: ${decision.message}`,
          );
        }
        await this.deps.lean.strategicMergePatch(apiPaths.pod(pod), {
          metadata: {
            resourceVersion: pod.resourceVersion,
            annotations: {
              [RESTORE_MESSAGE_ANNOTATION]:
                `RollingBack: ${decision.reason}: ${decision.message}; putting ${decision.originalImage} back`.slice(
                  0,
                  1024,
                ),
            },
          },
          spec: { containers: [{ name: decision.containerName, image: decision.originalImage }] },
        });
        if (!decision.recorded)
          this.podEvent(
            pod,
            'Warning',
            'RollingBack',
            `${decision.message}; container ${decision.containerName} goes back to ${decision.originalImage}`,
          );
        log.warn(
          { reason: decision.reason, container: decision.containerName, image: decision.originalImage },
          `the node cannot run the checkpoint image; rolling back: ${decision.message}`,
        );
        return { kind: 'requeueAfter', ms: 2_000 };
      }
      case 'succeed': {
        if (checkpoint) {
          await this.record(checkpoint, decision.jobName, (r) => ({
            ...base(pod, decision.request, decision.containerName, r, now),
            result: 'Succeeded',
            image: decision.image,
            reason: 'Restored',
            message: `container ${decision.containerName} restored from ${decision.image}`,
            completionTime: now,
          }));
          this.checkpointEvent(
            checkpoint,
            'Normal',
            'Restored',
            `pod ${pod.namespace}/${pod.name} container ${decision.containerName} restored from ${decision.image}`,
          );
        }
        await this.annotate(pod, {
          [RESTORE_STATUS_ANNOTATION]: 'Succeeded',
          [RESTORED_FROM_ANNOTATION]: decision.request,
          [RESTORE_MESSAGE_ANNOTATION]: `Restored: container ${decision.containerName} runs from ${decision.image}`,
        });
        this.podEvent(
          pod,
          'Normal',
          'Restored',
          `container ${decision.containerName} restored from Checkpoint ${decision.request} (${decision.image})`,
        );
        log.info({ checkpoint: decision.request, image: decision.image }, 'restore succeeded');
        this.deps.onResult?.('success');
        return { kind: 'done' };
      }
    }
  }

  private async startJob(
    pod: RestorePodFacts,
    checkpoint: Checkpoint,
    decision: Extract<RestoreDecision, { kind: 'startJob' }>,
    now: string,
    log: Logger,
  ): Promise<ReconcileOutcome> {
    const { input } = decision;
    const secret = await this.jobSecret(decision);
    if (!secret.ok) {
      return this.apply(
        pod,
        checkpoint,
        {
          kind: 'refuse',
          request: decision.request,
          reason: secret.reason,
          message: secret.message,
          jobName: input.jobName,
          containerName: input.containerName,
        },
        log,
      );
    }
    if (input.storage.backend === 's3')
      input.storage = { ...input.storage, credentials: secret.s3Credentials, caBundle: secret.caBundle };
    const ns = this.deps.jobSettings.namespace;
    const job = buildRestoreJob(
      input,
      { ...this.deps.jobSettings, ...activeTraceContext() },
      Object.keys(secret.data),
      decision.nodeName,
    );
    const { created } = await launchJob(this.deps.lean, {
      job,
      secretData: secret.data,
      secretLabels: ownerLabels('restore', input.pod),
      // The record comes first, and never over one the Job has already written: a fast Job can
      // record its result before this reconcile gets here again.
      beforeJob: () =>
        this.record(
          checkpoint,
          input.jobName,
          (r) =>
            r ?? {
              ...base(pod, decision.request, input.containerName, r, now),
              strategy: decision.strategy,
              result: 'Pending',
              reason: 'JobCreated',
            },
        ),
    });
    await this.annotate(pod, {
      [RESTORE_HANDLED_ANNOTATION]: handledMarker(decision.request),
      [RESTORE_STATUS_ANNOTATION]: 'Pending',
      [RESTORE_MESSAGE_ANNOTATION]: `JobCreated: restore Job ${input.jobName} fetches and verifies archive ${input.archive.uri}`,
    });
    if (created) {
      const message = `Job ${ns}/${input.jobName} restores container ${input.containerName} from Checkpoint ${decision.request} via ${input.registry.repository}`;
      this.podEvent(pod, 'Normal', 'RestoreStarted', message);
      this.checkpointEvent(checkpoint, 'Normal', 'RestoreStarted', `${message} for pod ${pod.namespace}/${pod.name}`);
      log.info({ job: input.jobName, node: decision.nodeName, checkpoint: decision.request }, 'restore Job created');
    }
    return { kind: 'requeueAfter', ms: RESYNC_MS };
  }

  /** The per-Job Secret: S3 credentials as for a checkpoint Job, plus the registry's push credentials. */
  private async jobSecret(
    decision: Extract<RestoreDecision, { kind: 'startJob' }>,
  ): Promise<
    | { ok: true; data: Record<string, string>; s3Credentials: 'secret' | 'ambient'; caBundle: boolean }
    | { ok: false; reason: string; message: string }
  > {
    const data: Record<string, string> = {};
    let s3Credentials: 'secret' | 'ambient' = 'ambient';
    let caBundle = false;
    if (decision.s3Secrets) {
      const plan = decision.s3Secrets;
      const [credentials, ca, operatorDefault] = await Promise.all([
        plan.credentials ? readSecretData(this.deps.lean, plan.credentials) : undefined,
        plan.caBundle ? readSecretData(this.deps.lean, plan.caBundle) : undefined,
        plan.credentials
          ? undefined
          : readSecretData(this.deps.lean, {
              namespace: this.deps.jobSettings.namespace,
              name: this.deps.s3DefaultCredentialsSecret,
            }),
      ]);
      const content = jobSecretContent(
        plan,
        { credentials, caBundle: ca, operatorDefault },
        this.deps.s3DefaultCredentialsSecret,
      );
      if (!content.ok) return content;
      Object.assign(data, content.data);
      s3Credentials = content.credentials;
      caBundle = content.caBundle;
    }
    const registry = await readRegistrySecretData(this.deps.lean, {
      credentials: decision.registrySecret,
      caBundle: decision.registryCaBundle,
    });
    if (registry.missing.length > 0) return { ok: false, ...registry.missing[0]! };
    Object.assign(data, registry.data);
    return { ok: true, data, s3Credentials, caBundle };
  }

  private async annotate(pod: RestorePodFacts, annotations: Record<string, string | null>): Promise<void> {
    await this.deps.lean.mergePatch(`/api/v1/namespaces/${pod.namespace}/pods/${pod.name}`, {
      metadata: { resourceVersion: pod.resourceVersion, annotations },
    });
  }

  private async record(
    checkpoint: Checkpoint,
    jobName: string,
    update: (existing: RestoreRecord | undefined) => RestoreRecord,
  ): Promise<void> {
    await upsertRestoreRecord(
      this.deps.lean,
      { namespace: checkpoint.metadata.namespace!, name: checkpoint.metadata.name },
      jobName,
      update,
    );
  }

  private podEvent(pod: RestorePodFacts, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.deps.events.record(
      { apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid },
      type,
      reason,
      message,
    );
  }

  private checkpointEvent(checkpoint: Checkpoint, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.deps.events.record(
      {
        apiVersion: API_GROUP_VERSION,
        kind: CHECKPOINT_KIND,
        namespace: checkpoint.metadata.namespace!,
        name: checkpoint.metadata.name,
        uid: checkpoint.metadata.uid,
      },
      type,
      reason,
      message,
    );
  }

  private async readPod(namespace: string, name: string): Promise<V1Pod | undefined> {
    return this.deps.lean.get<V1Pod>(`/api/v1/namespaces/${namespace}/pods/${name}`).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
  }

  private async readCheckpoint(namespace: string, name: string): Promise<Checkpoint | undefined> {
    return this.deps.lean.get<Checkpoint>(apiPaths.checkpoint({ namespace, name })).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
  }

  private async readJob(name: string): Promise<V1Job | undefined> {
    return this.deps.lean
      .get<V1Job>(`/apis/batch/v1/namespaces/${this.deps.jobSettings.namespace}/jobs/${name}`)
      .catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
  }

  private lookUpPolicy(name: string): Promise<PolicyLookup> {
    return lookUpPolicy(this.deps.policies, this.deps.lean, name);
  }
}

function base(
  pod: RestorePodFacts,
  request: string,
  containerName: string | undefined,
  existing: RestoreRecord | undefined,
  now: string,
): RestoreRecord {
  return {
    ...existing,
    podName: pod.name,
    namespace: pod.namespace,
    podUid: pod.uid,
    request,
    ...(containerName ? { containerName } : {}),
    startTime: existing?.startTime ?? now,
    result: existing?.result ?? 'Pending',
  };
}

export function podFacts(pod: V1Pod): RestorePodFacts {
  return {
    namespace: pod.metadata!.namespace!,
    name: pod.metadata!.name!,
    uid: pod.metadata!.uid!,
    resourceVersion: pod.metadata?.resourceVersion,
    nodeName: pod.spec?.nodeName,
    deleting: Boolean(pod.metadata?.deletionTimestamp),
    annotations: pod.metadata?.annotations ?? {},
    imagePullSecrets: (pod.spec?.imagePullSecrets ?? []).map((s) => s.name ?? ''),
    containers: (pod.spec?.containers ?? []).map((c) => ({ name: c.name, image: c.image ?? '' })),
    statuses: (pod.status?.containerStatuses ?? []).map((s) => ({
      name: s.name,
      imageID: s.imageID,
      containerID: s.containerID,
      running: Boolean(s.state?.running),
      runningSince: s.state?.running?.startedAt ? new Date(s.state.running.startedAt).getTime() : undefined,
      waitingReason: s.state?.waiting?.reason,
      waitingMessage: s.state?.waiting?.message,
      terminated: s.state?.terminated
        ? { exitCode: s.state.terminated.exitCode, reason: s.state.terminated.reason }
        : undefined,
    })),
  };
}

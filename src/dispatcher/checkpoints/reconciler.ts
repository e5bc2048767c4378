import type { CustomObjectsApi, V1Job, V1Pod } from '@kubernetes/client-node';
import type { Checkpoint } from '../../api/checkpoint.js';
import type { CheckpointPolicy } from '../../api/checkpoint-policy.js';
import { failedStatus, runningStatus } from '../../api/checkpoint-status.js';
import { API_GROUP, API_GROUP_VERSION, API_VERSION, CHECKPOINT_KIND, CHECKPOINT_PLURAL } from '../../api/constants.js';
import type { Clock } from '../../clock/clock.js';
import { buildCheckpointJob, type JobSettings } from '../../kube/checkpoint-job.js';
import { patchCheckpointStatus } from '../../kube/checkpoint-status-writer.js';
import { ConflictError, isAlreadyExists, isNotFound } from '../../kube/errors.js';
import type { EventRecorder } from '../../kube/events.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';
import type { ResilientInformer } from '../../kube/informer.js';
import { jobName, ownerLabels } from '../../kube/names.js';
import type { ReconcileOutcome } from '../../kube/work-queue.js';
import { lookUpPolicy, type PolicyLookup } from '../policy-lookup.js';
import type { Logger } from '../../observability/logger.js';
import { activeTraceContext } from '../../observability/tracing.js';
import { type CheckpointDecision, type DecideSettings, decideCheckpoint, isTerminal, jobFacts, type PodFacts, type S3SecretPlan } from './decide.js';
import { type JobSecretContent, jobSecretContent, readSecretData } from './s3-job-secret.js';
import { ensureTemplateClaim } from './template-claim.js';

export interface CheckpointReconcilerDeps {
  checkpoints: ResilientInformer<Checkpoint>;
  policies: ResilientInformer<CheckpointPolicy>;
  jobs: ResilientInformer<V1Job>;
  /** Hot-path requests (pod read, Job create, status patch). */
  lean: LeanKubeClient;
  custom: CustomObjectsApi;
  events: EventRecorder;
  clock: Clock;
  log: Logger;
  decideSettings: DecideSettings;
  jobSettings: JobSettings;
  /** The operator's default S3 credentials Secret, in the Jobs' namespace. */
  s3DefaultCredentialsSecret: string;
}

/** A safety net: Job and Checkpoint watches drive progress; this only catches a missed event. */
const RESYNC_RUNNING_MS = 5 * 60_000;

/**
 * Reconciles one Checkpoint: gathers facts (caches first; the target pod read live, since pods are
 * not cached), lets `decideCheckpoint` choose, then applies that one decision.
 */
export class CheckpointReconciler {
  constructor(private readonly deps: CheckpointReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileOutcome> {
    const [namespace, name] = key.split('/') as [string, string];
    const checkpoint = this.deps.checkpoints.get(name, namespace);
    if (!checkpoint || checkpoint.metadata.deletionTimestamp) return { kind: 'done' };
    if (isTerminal(checkpoint.status)) return { kind: 'done' };
    const log = this.deps.log.child({ namespace, name, action: 'checkpoint' });

    const expectedJobName = jobName('checkpoint', { namespace, name, uid: checkpoint.metadata.uid! });
    // The Job cache can lag our own create: before a Running Checkpoint's Job counts as lost,
    // ask the API server.
    const job = this.deps.jobs.get(expectedJobName, this.deps.jobSettings.namespace)
      ?? (checkpoint.status?.phase === 'Running' ? await this.readJob(expectedJobName) : undefined);
    const policyRef = (checkpoint.spec as { policyRef?: unknown })?.policyRef;
    const policy = typeof policyRef === 'string' ? await this.lookUpPolicy(policyRef) : undefined;
    const pod = job ? ({ found: false } as PodFacts) : await this.lookUpPod(checkpoint);

    const decision = decideCheckpoint({
      checkpoint, policy, pod, job: jobFacts(job), expectedJobName, settings: this.deps.decideSettings,
    });
    if (decision.kind !== 'nothing' && decision.kind !== 'wait') log.debug({ decision: decision.kind }, 'decided');
    return this.apply(checkpoint, decision, expectedJobName, log);
  }

  private async apply(checkpoint: Checkpoint, decision: CheckpointDecision, expectedJobName: string, log: Logger): Promise<ReconcileOutcome> {
    const now = new Date(this.deps.clock.now());
    const ref = { namespace: checkpoint.metadata.namespace!, name: checkpoint.metadata.name };
    switch (decision.kind) {
      case 'nothing':
        return { kind: 'done' };
      case 'wait':
        return { kind: 'requeueAfter', ms: RESYNC_RUNNING_MS };
      case 'fail':
        await this.fail(checkpoint, decision.reason, decision.message, now, log);
        return { kind: 'done' };
      case 'startJob': {
        if (decision.input.storage.backend === 'pvc') await this.ensureClaimFor(checkpoint, decision.input.storage.claimName);
        let input = decision.input;
        if (input.storage.backend === 's3') {
          const content = await this.s3Secret(expectedJobName, decision.s3Secrets ?? {}, ref);
          if (!content.ok) {
            await this.fail(checkpoint, content.reason, content.message, now, log);
            return { kind: 'done' };
          }
          input = { ...input, storage: { ...input.storage, credentials: content.credentials, caBundle: content.caBundle } };
        }
        const job = buildCheckpointJob(input, { ...this.deps.jobSettings, ...activeTraceContext() });
        let created = true;
        let jobUid: string | undefined;
        try {
          jobUid = (await this.deps.lean.post<V1Job>(`/apis/batch/v1/namespaces/${this.deps.jobSettings.namespace}/jobs`, job)).metadata?.uid;
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
          created = false; // made by an earlier run of this reconcile: adopt it
        }
        if (input.storage.backend === 's3' && (input.storage.credentials === 'secret' || input.storage.caBundle)) {
          await this.adoptJobSecret(expectedJobName, jobUid);
        }
        await patchCheckpointStatus(this.deps.lean, ref,
          runningStatus(checkpoint, { jobName: expectedJobName, nodeName: decision.nodeName, containerName: decision.containerName }, now),
          checkpoint.metadata.resourceVersion);
        if (created) {
          log.info({ job: expectedJobName, node: decision.nodeName, container: decision.containerName }, 'checkpoint Job created');
          this.event(checkpoint, 'Normal', 'JobCreated',
            `Job ${this.deps.jobSettings.namespace}/${expectedJobName} checkpoints container ${decision.containerName} on node ${decision.nodeName}`);
        }
        return { kind: 'requeueAfter', ms: RESYNC_RUNNING_MS };
      }
      case 'markRunning': {
        // The Job cache can lag our own create: before a Running Checkpoint's Job counts as lost,
    // ask the API server.
    const job = this.deps.jobs.get(expectedJobName, this.deps.jobSettings.namespace)
      ?? (checkpoint.status?.phase === 'Running' ? await this.readJob(expectedJobName) : undefined);
        const spec = job?.spec?.template.spec;
        await patchCheckpointStatus(this.deps.lean, ref, runningStatus(checkpoint, {
          jobName: expectedJobName,
          nodeName: spec?.nodeName ?? checkpoint.status?.nodeName ?? '',
          containerName: checkpoint.status?.containerName ?? checkpoint.spec.target.containerName ?? '',
        }, now), checkpoint.metadata.resourceVersion);
        return { kind: 'requeueAfter', ms: RESYNC_RUNNING_MS };
      }
      case 'jobFinishedWithoutResult': {
        // The Job writes its result before it exits, but our Checkpoint cache may lag the Job
        // cache: read the Checkpoint live before declaring the result missing.
        const live = await this.readCheckpoint(ref);
        if (!live || isTerminal(live.status)) return { kind: 'done' };
        await this.fail(live, decision.reason, decision.message, now, log);
        return { kind: 'done' };
      }
    }
  }

  private async fail(checkpoint: Checkpoint, reason: string, message: string, now: Date, log: Logger): Promise<void> {
    const ref = { namespace: checkpoint.metadata.namespace!, name: checkpoint.metadata.name };
    await patchCheckpointStatus(this.deps.lean, ref, failedStatus(checkpoint, reason, message, now), checkpoint.metadata.resourceVersion);
    log.warn({ reason }, `checkpoint failed: ${message}`);
    this.event(checkpoint, 'Warning', reason, message);
  }

  private event(checkpoint: Checkpoint, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.deps.events.record({
      apiVersion: API_GROUP_VERSION, kind: CHECKPOINT_KIND, namespace: checkpoint.metadata.namespace!,
      name: checkpoint.metadata.name, uid: checkpoint.metadata.uid,
    }, type, reason, message);
  }

  private lookUpPolicy(name: string): Promise<PolicyLookup> {
    return lookUpPolicy(this.deps.policies, this.deps.custom, name);
  }


  private async lookUpPod(checkpoint: Checkpoint): Promise<PodFacts> {
    const target = checkpoint.spec?.target;
    if (!target?.podName) return { found: false };
    let pod: V1Pod;
    try {
      pod = await this.deps.lean.get<V1Pod>(`/api/v1/namespaces/${target.namespace ?? checkpoint.metadata.namespace!}/pods/${target.podName}`);
    } catch (err) {
      if (isNotFound(err)) return { found: false };
      throw err;
    }
    return {
      found: true,
      nodeName: pod.spec?.nodeName,
      phase: pod.status?.phase,
      deleting: Boolean(pod.metadata?.deletionTimestamp),
      containers: (pod.spec?.containers ?? []).map((c) => ({ name: c.name })),
      runningContainers: (pod.status?.containerStatuses ?? []).filter((s) => s.state?.running).map((s) => s.name),
    };
  }

  private async readJob(name: string): Promise<V1Job | undefined> {
    try {
      return await this.deps.lean.get<V1Job>(`/apis/batch/v1/namespaces/${this.deps.jobSettings.namespace}/jobs/${name}`);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async readCheckpoint(ref: { namespace: string; name: string }): Promise<Checkpoint | undefined> {
    try {
      return await this.deps.custom.getNamespacedCustomObject({
        group: API_GROUP, version: API_VERSION, plural: CHECKPOINT_PLURAL, namespace: ref.namespace, name: ref.name,
      }) as Checkpoint;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Writes the per-Job Secret (named like the Job) before the Job exists, so its pod never waits
   * for it. It is immutable: a retried reconcile finds it and keeps it.
   */
  private async s3Secret(name: string, plan: S3SecretPlan, owner: { namespace: string; name: string }): Promise<JobSecretContent> {
    const ns = this.deps.jobSettings.namespace;
    const [credentials, caBundle, operatorDefault] = await Promise.all([
      plan.credentials ? readSecretData(this.deps.lean, plan.credentials) : undefined,
      plan.caBundle ? readSecretData(this.deps.lean, plan.caBundle) : undefined,
      plan.credentials ? undefined : readSecretData(this.deps.lean, { namespace: ns, name: this.deps.s3DefaultCredentialsSecret }),
    ]);
    const content = jobSecretContent(plan, { credentials, caBundle, operatorDefault }, this.deps.s3DefaultCredentialsSecret);
    if (!content.ok || Object.keys(content.data).length === 0) return content;
    const checkpoint = this.deps.checkpoints.get(owner.name, owner.namespace);
    const labels = checkpoint ? ownerLabels('checkpoint', { ...owner, uid: checkpoint.metadata.uid! }) : {};
    try {
      await this.deps.lean.post(`/api/v1/namespaces/${ns}/secrets`, {
        apiVersion: 'v1', kind: 'Secret', type: 'Opaque', immutable: true,
        metadata: { name, namespace: ns, labels },
        data: content.data,
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    return content;
  }

  /** The Job owns its Secret, so the garbage collector removes both together. */
  private async adoptJobSecret(name: string, jobUid: string | undefined): Promise<void> {
    const ns = this.deps.jobSettings.namespace;
    const uid = jobUid ?? this.deps.jobs.get(name, ns)?.metadata?.uid ?? (await this.deps.lean.get<V1Job>(`/apis/batch/v1/namespaces/${ns}/jobs/${name}`)).metadata?.uid;
    if (!uid) return;
    await this.deps.lean.mergePatch(`/api/v1/namespaces/${ns}/secrets/${name}`, {
      metadata: { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name, uid, controller: true, blockOwnerDeletion: false }] },
    }).catch((err: unknown) => { if (!isNotFound(err)) throw err; });
  }

  private async ensureClaimFor(checkpoint: Checkpoint, claimName: string): Promise<void> {
    const policyRef = checkpoint.spec.policyRef;
    const policy = policyRef ? this.deps.policies.get(policyRef) ?? (await this.lookUpPolicy(policyRef).then((p) => (p.found ? p.policy : undefined))) : undefined;
    const template = policy?.spec.storage?.pvcTemplate;
    if (!template || policy.spec.storage?.pvc?.claimName === claimName) return;
    await ensureTemplateClaim(this.deps.lean, this.deps.jobSettings.namespace, claimName, policy.metadata.name, template);
  }
}

export { ConflictError };

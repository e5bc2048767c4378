import { createHash } from 'node:crypto';
import type { V1CronJob } from '@kubernetes/client-node';
import type { CheckpointPolicy, CheckpointPolicyStatus } from '../../api/checkpoint-policy.js';
import { findCondition, setCondition } from '../../api/condition-set.js';
import { API_GROUP_VERSION, CHECKPOINT_POLICY_KIND } from '../../api/constants.js';
import type { Clock } from '../../clock/clock.js';
import type { SweepJobInput } from '../../actions/sweep/job-input.js';
import type { JobSettings } from '../../actions/shared/action-job.js';
import { apiMessage, isAlreadyExists, isInvalid, isNotFound } from '../../kube/errors.js';
import type { EventRecorder } from '../../kube/events.js';
import type { Lister } from '../../kube/lister.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';
import { patchPolicyStatus, type PolicyStatusPatch } from '../../status/policy-status-writer.js';
import { buildSweepCronJob, sweepCronJobName, sweepLabels } from '../../actions/sweep/cronjob.js';
import type { ReconcileOutcome } from '../../kube/work-queue.js';
import type { Logger } from '../../observability/logger.js';
import { ensureTemplateClaim } from '../shared/template-claim.js';
import { readS3SecretContent } from '../shared/job-secrets.js';
import { decidePolicy, type PolicyDecision } from './decide.js';

export interface PolicyReconcilerDeps {
  policies: Lister<CheckpointPolicy>;
  lean: LeanKubeClient;
  events: EventRecorder;
  clock: Clock;
  log: Logger;
  jobSettings: JobSettings;
  /** The identity sweep Jobs run as (list and delete Checkpoints, write policy status). */
  sweepServiceAccount: string;
  s3DefaultCredentialsSecret: string;
}

/** What the policy's Ready condition and status say after a reconcile. */
interface SweepOutcome {
  ready: boolean;
  reason: string;
  message: string;
  cronJobName?: string;
  nextSweepTime?: Date;
}

/** Set on the CronJob: the hash of what the operator wants, so an unchanged policy writes nothing. */
const SPEC_HASH_ANNOTATION = 'checkpoint.example.com/spec-hash';
const READY = 'Ready';
/** nextSweepTime is refreshed once the time it names has passed; at least this often otherwise. */
const MAX_RECHECK_MS = 60 * 60_000;

/**
 * Keeps each policy's retention machinery in step with its spec: the sweep CronJob in the Jobs'
 * namespace (owned by the policy, so the garbage collector removes it with the policy), the
 * Secret its Jobs read S3 credentials from, the claim its pvcTemplate describes, and the policy's
 * status (cronJobName, nextSweepTime, a Ready condition).
 */
export class PolicyReconciler {
  constructor(private readonly deps: PolicyReconcilerDeps) {}

  async reconcile(name: string): Promise<ReconcileOutcome> {
    const policy = this.deps.policies.get(name);
    if (!policy || policy.metadata.deletionTimestamp) return { kind: 'done' };
    const log = this.deps.log.child({ name, action: 'policy' });
    const now = this.deps.clock.now();
    const decision = decidePolicy(policy, this.deps.jobSettings.namespace, now);
    const template = policy.spec.storage?.pvcTemplate;
    const claimRefused =
      decision.templateClaim && template ? await this.ensureClaim(policy, decision.templateClaim, template) : undefined;

    const outcome = claimRefused ?? (await this.applySweep(policy, decision, log));
    await this.writeStatus(policy, outcome, new Date(now));
    if (decision.kind === 'sweep' && decision.nextSweepTime) {
      return {
        kind: 'requeueAfter',
        ms: Math.min(Math.max(decision.nextSweepTime.getTime() - now + 1000, 1000), MAX_RECHECK_MS),
      };
    }
    return outcome.ready ? { kind: 'done' } : { kind: 'requeueAfter', ms: 60_000 };
  }

  /**
   * Creates the claim the policy's pvcTemplate describes. A template the API server refuses (a
   * size of 0 or below, say) is reported on the policy rather than retried for ever.
   */
  private async ensureClaim(
    policy: CheckpointPolicy,
    claimName: string,
    template: Parameters<typeof ensureTemplateClaim>[4],
  ): Promise<SweepOutcome | undefined> {
    try {
      await ensureTemplateClaim(
        this.deps.lean,
        this.deps.jobSettings.namespace,
        claimName,
        policy.metadata.name,
        template,
      );
      return undefined;
    } catch (err) {
      if (!isInvalid(err)) throw err;
      const message = `the API server refuses claim ${this.deps.jobSettings.namespace}/${claimName} made from spec.storage.pvcTemplate: ${apiMessage(err)}`;
      this.event(policy, 'Warning', 'InvalidClaimTemplate', message);
      return { ready: false, reason: 'InvalidClaimTemplate', message };
    }
  }

  private async applySweep(policy: CheckpointPolicy, decision: PolicyDecision, log: Logger): Promise<SweepOutcome> {
    const ns = this.deps.jobSettings.namespace;
    const cronJobName = sweepCronJobName(policy.metadata.name);
    if (decision.kind === 'invalid') {
      // The CronJob (if any) keeps the last valid schedule: a typo must not stop retention.
      this.event(policy, 'Warning', decision.reason, decision.message);
      return { ready: false, reason: decision.reason, message: decision.message };
    }
    if (decision.kind === 'noSweep') {
      await this.deleteIfPresent(`/apis/batch/v1/namespaces/${ns}/cronjobs/${cronJobName}`);
      await this.deleteIfPresent(`/api/v1/namespaces/${ns}/secrets/${cronJobName}`);
      return { ready: true, reason: 'NoRetention', message: decision.why };
    }

    let storage = decision.storage;
    let secretKeys: string[] = [];
    if (storage?.backend === 's3') {
      const content = await readS3SecretContent(
        this.deps.lean,
        ns,
        decision.s3Secrets ?? {},
        this.deps.s3DefaultCredentialsSecret,
      );
      if (!content.ok) {
        this.event(policy, 'Warning', content.reason, content.message);
        return {
          ready: false,
          reason: content.reason,
          message: `the sweep cannot list the policy's storage: ${content.message}`,
        };
      }
      secretKeys = Object.keys(content.data).sort();
      if (secretKeys.length > 0) await this.upsertSecret(cronJobName, content.data, policy);
      storage = { ...storage, credentials: content.credentials, caBundle: content.caBundle };
    }
    const input: SweepJobInput = {
      policy: { name: policy.metadata.name, uid: policy.metadata.uid! },
      ...(storage ? { storage } : {}),
    };
    const desired = buildSweepCronJob({
      policy,
      schedule: decision.schedule,
      timeZone: decision.timeZone,
      suspend: decision.suspend,
      input,
      settings: this.deps.jobSettings,
      serviceAccountName: this.deps.sweepServiceAccount,
      secretKeys,
      secretName: secretKeys.length > 0 ? cronJobName : undefined,
      claimName: storage?.backend === 'pvc' ? storage.claimName : undefined,
    });
    let created: boolean;
    try {
      created = await this.upsertCronJob(desired);
    } catch (err) {
      // A CronJob the API server refuses (a time zone its database lacks, say) stays refused
      // until the policy changes: report it, and keep the last valid CronJob.
      if (!isInvalid(err)) throw err;
      const message = `the API server refuses sweep CronJob ${ns}/${cronJobName}: ${apiMessage(err)}`;
      this.event(policy, 'Warning', 'CronJobRejected', message);
      return { ready: false, reason: 'CronJobRejected', message };
    }
    if (created) {
      log.info({ cronJob: cronJobName, schedule: decision.schedule }, 'sweep CronJob created');
      this.event(
        policy,
        'Normal',
        'SweepScheduled',
        `CronJob ${ns}/${cronJobName} sweeps on schedule ${decision.schedule}`,
      );
    }
    return {
      ready: true,
      reason: decision.suspend ? 'SweepSuspended' : 'SweepScheduled',
      message: decision.suspend
        ? `CronJob ${ns}/${cronJobName} is suspended`
        : `CronJob ${ns}/${cronJobName} sweeps on schedule ${decision.schedule}`,
      cronJobName,
      ...(decision.nextSweepTime ? { nextSweepTime: decision.nextSweepTime } : {}),
    };
  }

  /** Creates the CronJob, or replaces it when what the operator wants changed; true when created. */
  private async upsertCronJob(desired: V1CronJob): Promise<boolean> {
    const hash = createHash('sha256').update(JSON.stringify(desired)).digest('hex').slice(0, 16);
    desired.metadata!.annotations = { ...desired.metadata!.annotations, [SPEC_HASH_ANNOTATION]: hash };
    const path = `/apis/batch/v1/namespaces/${desired.metadata!.namespace}/cronjobs`;
    let current: V1CronJob | undefined;
    try {
      current = await this.deps.lean.get<V1CronJob>(`${path}/${desired.metadata!.name}`);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!current) {
      try {
        await this.deps.lean.post(path, desired);
        return true;
      } catch (err) {
        if (isAlreadyExists(err)) return false;
        throw err;
      }
    }
    if (current.metadata?.annotations?.[SPEC_HASH_ANNOTATION] === hash) return false;
    desired.metadata!.resourceVersion = current.metadata?.resourceVersion;
    await this.deps.lean.put(`${path}/${desired.metadata!.name}`, desired);
    return false;
  }

  /** The policy's S3 credentials for its sweeps; rewritten when they are rotated. */
  private async upsertSecret(name: string, data: Record<string, string>, policy: CheckpointPolicy): Promise<void> {
    const ns = this.deps.jobSettings.namespace;
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name,
        namespace: ns,
        labels: sweepLabels({ name: policy.metadata.name, uid: policy.metadata.uid! }),
        ownerReferences: [
          {
            apiVersion: API_GROUP_VERSION,
            kind: CHECKPOINT_POLICY_KIND,
            name: policy.metadata.name,
            uid: policy.metadata.uid!,
            controller: true,
            blockOwnerDeletion: false,
          },
        ],
      },
      data,
    };
    try {
      await this.deps.lean.post(`/api/v1/namespaces/${ns}/secrets`, body);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      await this.deps.lean.mergePatch(`/api/v1/namespaces/${ns}/secrets/${name}`, { data });
    }
  }

  private async deleteIfPresent(path: string): Promise<void> {
    await this.deps.lean
      .delete(path, { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' })
      .catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
  }

  /** Writes only what changed, so the policy's own watch event does not start another write. */
  private async writeStatus(policy: CheckpointPolicy, outcome: SweepOutcome, now: Date): Promise<void> {
    const current: CheckpointPolicyStatus = policy.status ?? {};
    const generation = policy.metadata.generation;
    const ready = findCondition(current.conditions, READY);
    const patch: PolicyStatusPatch = {};
    if (current.cronJobName !== outcome.cronJobName) patch.cronJobName = outcome.cronJobName ?? null;
    const next = outcome.nextSweepTime?.toISOString();
    if (current.nextSweepTime !== next) patch.nextSweepTime = next ?? null;
    if (current.observedGeneration !== generation && generation !== undefined) patch.observedGeneration = generation;
    const status = outcome.ready ? 'True' : 'False';
    if (
      ready?.status !== status ||
      ready.reason !== outcome.reason ||
      ready.message !== outcome.message ||
      ready.observedGeneration !== generation
    ) {
      patch.conditions = setCondition(
        current.conditions,
        { type: READY, status, reason: outcome.reason, message: outcome.message, observedGeneration: generation },
        now,
      );
    }
    if (Object.keys(patch).length === 0) return;
    await patchPolicyStatus(this.deps.lean, policy.metadata.name, patch, policy.metadata.resourceVersion);
  }

  private event(policy: CheckpointPolicy, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.deps.events.record(
      {
        apiVersion: API_GROUP_VERSION,
        kind: CHECKPOINT_POLICY_KIND,
        namespace: '',
        name: policy.metadata.name,
        uid: policy.metadata.uid,
      },
      type,
      reason,
      message,
    );
  }
}

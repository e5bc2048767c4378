import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { Checkpoint, CheckpointStatus } from '../../api/checkpoint.js';
import {
  API_GROUP,
  API_GROUP_VERSION,
  API_VERSION,
  ARCHIVE_FINALIZER,
  CHECKPOINT_KIND,
  CHECKPOINT_PLURAL,
} from '../../api/constants.js';
import type { JobSettings } from '../../actions/shared/action-job.js';
import { buildCleanupJob, cleanupJobName } from '../../actions/cleanup/job.js';
import { patchCheckpointStatus } from '../../status/checkpoint-status-writer.js';
import { isNotFound } from '../../kube/errors.js';
import type { EventRecorder } from '../../kube/events.js';
import type { Lister } from '../../kube/lister.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';
import { jobName, ownerLabels } from '../../kube/names.js';
import type { ReconcileOutcome } from '../../kube/work-queue.js';
import type { Logger } from '../../observability/logger.js';
import { activeTraceContext } from '../../observability/tracing.js';
import type { PolicyLookup } from '../policy-lookup.js';
import { type CleanupDecision, decideCleanup } from './decide-cleanup.js';
import { jobFacts } from '../shared/job-facts.js';
import { REGISTRY_CA_SECRET_KEY, REGISTRY_SECRET_KEY } from '../../actions/shared/registry-secret.js';
import { readRegistrySecretData } from '../shared/registry-job-secret.js';
import type { RestoreDefaults } from '../shared/registry-plan.js';
import { readS3SecretContent } from '../shared/job-secrets.js';
import { launchJob } from '../shared/launch-job.js';

export interface CheckpointCleanupDeps {
  jobs: Lister<V1Job>;
  lean: LeanKubeClient;
  events: EventRecorder;
  now: () => Date;
  jobSettings: JobSettings;
  s3DefaultCredentialsSecret: string;
  localStorageRoots: string[];
  /** How restores reach the registry by default: checkpoint images are deleted the same way. */
  restoreDefaults: RestoreDefaults;
  lookUpPolicy: (name: string) => Promise<PolicyLookup>;
  /** Told once per Checkpoint let go, with what became of its archive. */
  onReleased?: (archive: 'deleted' | 'retained' | 'none') => void;
}

/** How soon a held deletion is looked at again when no watch event will say the obstacle went. */
const HOLD_RECHECK_MS = 60_000;
const RETRY_AFTER_FAILED_JOB_MS = 30_000;

/**
 * The deletion half of a Checkpoint's life: while the archive-cleanup finalizer is on it, the
 * archive is deleted by a cleanup Job (pinned to the archive's node for local), and only once
 * that Job completed does the finalizer go. Every wait is visible as phase Deleting with a reason.
 */
export class CheckpointCleanup {
  constructor(private readonly deps: CheckpointCleanupDeps) {}

  async reconcile(checkpoint: Checkpoint, log: Logger): Promise<ReconcileOutcome> {
    const ref = {
      namespace: checkpoint.metadata.namespace!,
      name: checkpoint.metadata.name,
      uid: checkpoint.metadata.uid!,
    };
    const ns = this.deps.jobSettings.namespace;
    const cleanupName = cleanupJobName(ref);
    const checkpointJob = checkpoint.status?.jobName ? this.deps.jobs.get(jobName('checkpoint', ref), ns) : undefined;
    const cleanupJob = this.deps.jobs.get(cleanupName, ns);
    const policyRef = checkpoint.spec?.policyRef;
    const policy = typeof policyRef === 'string' ? await this.deps.lookUpPolicy(policyRef) : undefined;
    const imagesInUse =
      checkpoint.metadata.deletionTimestamp && !cleanupJob ? await this.imagesInUse(checkpoint) : undefined;
    const decision = decideCleanup({
      checkpoint,
      policy,
      checkpointJob: jobFacts(checkpointJob),
      cleanupJob: jobFacts(cleanupJob),
      localStorageRoots: this.deps.localStorageRoots,
      restoreDefaults: this.deps.restoreDefaults,
      jobNamespace: ns,
      ...(imagesInUse ? { imagesInUse } : {}),
    });
    return this.apply(checkpoint, decision, cleanupName, log);
  }

  private async apply(
    checkpoint: Checkpoint,
    decision: CleanupDecision,
    cleanupName: string,
    log: Logger,
  ): Promise<ReconcileOutcome> {
    const ref = {
      namespace: checkpoint.metadata.namespace!,
      name: checkpoint.metadata.name,
      uid: checkpoint.metadata.uid!,
    };
    const ns = this.deps.jobSettings.namespace;
    switch (decision.kind) {
      case 'nothing':
        return { kind: 'done' };
      case 'hold':
        if (checkpoint.status?.phase !== 'Deleting' || checkpoint.status.reason !== decision.reason) {
          await this.setDeleting(checkpoint, decision.reason, decision.message);
          log.warn({ reason: decision.reason }, `deletion waits: ${decision.message}`);
          this.event(checkpoint, 'Warning', decision.reason, `deletion waits: ${decision.message}`);
        }
        return { kind: 'requeueAfter', ms: decision.recheckMs ?? HOLD_RECHECK_MS };
      case 'release': {
        await this.removeFinalizer(checkpoint);
        log.info({ archive: decision.archive }, `finalizer removed: ${decision.why}`);
        this.deps.onReleased?.(decision.archive);
        if (decision.archive === 'retained')
          this.event(
            checkpoint,
            'Normal',
            'ArchiveRetained',
            `${checkpoint.status?.archive?.uri ?? 'the archive'} stays in storage: ${decision.why}`,
          );
        return { kind: 'done' };
      }
      case 'retryJob':
        log.warn(`${decision.message}; starting it again`);
        await this.deps.lean
          .delete(`/apis/batch/v1/namespaces/${ns}/jobs/${cleanupName}`, {
            kind: 'DeleteOptions',
            apiVersion: 'v1',
            propagationPolicy: 'Background',
          })
          .catch((err: unknown) => {
            if (!isNotFound(err)) throw err;
          });
        return { kind: 'requeueAfter', ms: RETRY_AFTER_FAILED_JOB_MS };
      case 'startJob': {
        let input = decision.input;
        const data: Record<string, string> = {};
        if (input.storage.backend === 's3') {
          const content = await readS3SecretContent(
            this.deps.lean,
            ns,
            decision.s3Secrets ?? {},
            this.deps.s3DefaultCredentialsSecret,
          );
          if (!content.ok) {
            await this.setDeleting(checkpoint, content.reason, content.message);
            this.event(checkpoint, 'Warning', content.reason, `deletion waits: ${content.message}`);
            return { kind: 'requeueAfter', ms: HOLD_RECHECK_MS };
          }
          Object.assign(data, content.data);
          input = {
            ...input,
            storage: { ...input.storage, credentials: content.credentials, caBundle: content.caBundle },
          };
        }
        // A registry Secret that is gone never holds the Checkpoint: the Job tries without it and
        // reports the images it could not delete.
        const registry = decision.registrySecrets
          ? await readRegistrySecretData(this.deps.lean, decision.registrySecrets)
          : undefined;
        if (registry) {
          Object.assign(data, registry.data);
          input = {
            ...input,
            registryCredentials: REGISTRY_SECRET_KEY in registry.data,
            ...(input.images
              ? {
                  images: input.images.map((i) => ({
                    ...i,
                    caBundle: i.caBundle && REGISTRY_CA_SECRET_KEY in registry.data,
                  })),
                }
              : {}),
          };
        }
        const job = buildCleanupJob(
          input,
          { ...this.deps.jobSettings, ...activeTraceContext() },
          Object.keys(data),
          cleanupName,
        );
        const { created } = await launchJob(this.deps.lean, {
          job,
          secretData: data,
          secretLabels: ownerLabels('cleanup', ref),
        });
        await this.setDeleting(
          checkpoint,
          'DeletingArchive',
          `Job ${ns}/${cleanupName} is deleting ${checkpoint.status?.archive?.uri ?? 'what the checkpoint Job stored'}`,
        );
        if (created) {
          log.info(
            { job: cleanupName, node: decision.nodeName, images: input.images?.length ?? 0 },
            'cleanup Job created',
          );
          for (const m of registry?.missing ?? [])
            this.event(checkpoint, 'Warning', m.reason, `checkpoint images may stay in the registry: ${m.message}`);
          for (const kept of decision.keptImages) {
            this.event(
              checkpoint,
              'Normal',
              'CheckpointImageKept',
              `checkpoint image ${kept.reference} stays in the registry: pod ${kept.pod} runs it; delete it there once the pod no longer does`,
            );
          }
        }
        return { kind: 'requeueAfter', ms: HOLD_RECHECK_MS };
      }
    }
  }

  /**
   * The images of this Checkpoint a restored pod still runs: the pod its restore records name,
   * the same pod (uid), with a container whose image is that reference.
   */
  private async imagesInUse(checkpoint: Checkpoint): Promise<Map<string, string>> {
    const inUse = new Map<string, string>();
    const seen = new Set<string>();
    for (const r of checkpoint.status?.restores ?? []) {
      if (!r.image || seen.has(`${r.namespace}/${r.podName}/${r.image}`)) continue;
      seen.add(`${r.namespace}/${r.podName}/${r.image}`);
      const pod = await this.deps.lean
        .get<V1Pod>(`/api/v1/namespaces/${r.namespace}/pods/${r.podName}`)
        .catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        });
      if (!pod || (r.podUid && pod.metadata?.uid !== r.podUid) || pod.metadata?.deletionTimestamp) continue;
      if ((pod.spec?.containers ?? []).some((c) => c.image === r.image))
        inUse.set(r.image, `${r.namespace}/${r.podName}`);
    }
    return inUse;
  }

  private async setDeleting(checkpoint: Checkpoint, reason: string, message: string): Promise<void> {
    const status: CheckpointStatus = { phase: 'Deleting', reason, message };
    await patchCheckpointStatus(
      this.deps.lean,
      { namespace: checkpoint.metadata.namespace!, name: checkpoint.metadata.name },
      status,
    );
  }

  /** A merge patch of the whole list, guarded by resourceVersion: other finalizers are kept. */
  private async removeFinalizer(checkpoint: Checkpoint): Promise<void> {
    const finalizers = (checkpoint.metadata.finalizers ?? []).filter((f) => f !== ARCHIVE_FINALIZER);
    try {
      await this.deps.lean.mergePatch(
        `/apis/${API_GROUP}/${API_VERSION}/namespaces/${checkpoint.metadata.namespace}/${CHECKPOINT_PLURAL}/${checkpoint.metadata.name}`,
        {
          metadata: {
            finalizers: finalizers.length > 0 ? finalizers : null,
            resourceVersion: checkpoint.metadata.resourceVersion,
          },
        },
      );
    } catch (err) {
      // A conflict is thrown: the queue retries with the newer object from the cache.
      if (!isNotFound(err)) throw err;
    }
  }

  private event(checkpoint: Checkpoint, type: 'Normal' | 'Warning', reason: string, message: string): void {
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
}

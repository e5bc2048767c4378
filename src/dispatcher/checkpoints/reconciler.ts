import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { Checkpoint } from '../../api/checkpoint.js';
import type { CheckpointPolicy } from '../../api/checkpoint-policy.js';
import { failedStatus, runningStatus } from '../../api/checkpoint-status.js';
import {
  API_GROUP,
  API_GROUP_VERSION,
  API_VERSION,
  ARCHIVE_FINALIZER,
  CHECKPOINT_KIND,
  CHECKPOINT_PLURAL,
} from '../../api/constants.js';
import type { Clock } from '../../clock/clock.js';
import { buildCheckpointJob, type JobSettings } from '../../actions/checkpoint/job.js';
import { pinnedNode } from '../../actions/shared/action-job.js';
import type { NodeFacts, NodeLister } from '../runtime-support.js';
import { patchCheckpointStatus } from '../../status/checkpoint-status-writer.js';
import { apiMessage, ConflictError, isConflict, isInvalid, isNotFound } from '../../kube/errors.js';
import type { EventRecorder } from '../../kube/events.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';
import type { Lister } from '../../kube/lister.js';
import { apiPaths } from '../../kube/paths.js';
import { JOB_SERVICE_ACCOUNTS, jobName, ownerLabels } from '../../kube/names.js';
import type { ReconcileOutcome } from '../../kube/work-queue.js';
import { lookUpPolicy, type PolicyLookup } from '../policy-lookup.js';
import type { Logger } from '../../observability/logger.js';
import { activeTraceContext } from '../../observability/tracing.js';
import { type CheckpointDecision, type DecideSettings, decideCheckpoint, isTerminal, type PodFacts } from './decide.js';
import { jobFacts } from '../shared/job-facts.js';
import { readS3SecretContent } from '../shared/job-secrets.js';
import { launchJob } from '../shared/launch-job.js';
import type { RestoreDefaults } from '../shared/registry-plan.js';
import { CheckpointCleanup } from './cleanup-reconciler.js';
import { ensureTemplateClaim } from '../shared/template-claim.js';
import { type BusyContainers, containerKey } from './busy-containers.js';
import type { NodeSlots } from './node-slots.js';

export interface CheckpointReconcilerDeps {
  checkpoints: Lister<Checkpoint>;
  policies: Lister<CheckpointPolicy>;
  jobs: Lister<V1Job>;
  /** Hot-path requests (pod read, Job create, status patch). */
  lean: LeanKubeClient;
  events: EventRecorder;
  clock: Clock;
  log: Logger;
  decideSettings: DecideSettings;
  jobSettings: JobSettings;
  /** The operator's default S3 credentials Secret, in the Jobs' namespace. */
  s3DefaultCredentialsSecret: string;
  /** How restores reach the registry by default; deleting a Checkpoint deletes its images the same way. */
  restoreDefaults: RestoreDefaults;
  /** Containers being checkpointed right now: one Job per container at a time. */
  busy: BusyContainers;
  nodeSlots: NodeSlots;
  /** What each node's kubelet and runtime are (see runtime-support.ts). */
  nodes: NodeLister;
  /** Told once per deleted Checkpoint let go, with what became of its archive. */
  onCheckpointReleased?: (archive: 'deleted' | 'retained' | 'none') => void;
}

/** A safety net: Job and Checkpoint watches drive progress; this only catches a missed event. */
const RESYNC_RUNNING_MS = 5 * 60_000;
/** A Checkpoint waiting for its container is queued again when the container comes free; this is the net under that. */
const RESYNC_WAITING_MS = 30_000;
/**
 * A Checkpoint waiting for a node slot is woken when one frees up; this is the fallback for a
 * woken waiter that then did not take it (it failed or was deleted meanwhile).
 */
const RESYNC_WAITING_FOR_NODE_MS = 10_000;

/**
 * Reconciles one Checkpoint: gathers facts (caches first; the target pod read live, since pods are
 * not cached), lets `decideCheckpoint` choose, then applies that one decision.
 */
export class CheckpointReconciler {
  private readonly cleanup: CheckpointCleanup;

  constructor(private readonly deps: CheckpointReconcilerDeps) {
    this.cleanup = new CheckpointCleanup({
      jobs: deps.jobs,
      lean: deps.lean,
      events: deps.events,
      now: () => new Date(deps.clock.now()),
      jobSettings: { ...deps.jobSettings, serviceAccountName: JOB_SERVICE_ACCOUNTS.cleanup },
      s3DefaultCredentialsSecret: deps.s3DefaultCredentialsSecret,
      localStorageRoots: deps.decideSettings.localStorageRoots,
      restoreDefaults: deps.restoreDefaults,
      lookUpPolicy: (name) => this.lookUpPolicy(name),
      ...(deps.onCheckpointReleased ? { onReleased: deps.onCheckpointReleased } : {}),
    });
  }

  async reconcile(key: string): Promise<ReconcileOutcome> {
    const [namespace, name] = key.split('/') as [string, string];
    const cached = this.deps.checkpoints.get(name, namespace);
    if (!cached) return { kind: 'done' };
    if (cached.metadata.deletionTimestamp)
      return this.cleanup.reconcile(cached, this.deps.log.child({ namespace, name, action: 'cleanup' }));
    // Checkpoints that may have an archive carry the finalizer (older ones get it here too).
    const mayHaveArchive = Boolean(cached.status?.archive || cached.status?.jobName);
    if (isTerminal(cached.status)) {
      // A claim made from a stale view of a Checkpoint that had already finished.
      this.deps.busy.release(key);
      if (mayHaveArchive) await this.ensureFinalizer(cached);
      return { kind: 'done' };
    }
    const log = this.deps.log.child({ namespace, name, action: 'checkpoint' });

    const expectedJobName = jobName('checkpoint', { namespace, name, uid: cached.metadata.uid! });
    // The Job cache can lag our own create: before a Running Checkpoint's Job counts as lost,
    // ask the API server.
    const job =
      this.deps.jobs.get(expectedJobName, this.deps.jobSettings.namespace) ??
      (cached.status?.phase === 'Running' ? await this.readJob(expectedJobName) : undefined);
    const policyRef = (cached.spec as { policyRef?: unknown })?.policyRef;
    // A Checkpoint that may be about to get a Job gets the finalizer first, so whatever its Job
    // stores is cleaned up with it; added while the pod is read, not after (one round trip less
    // per Checkpoint). One that then fails validation carries it harmlessly: with no Job, its
    // deletion lets it go at once.
    const [checkpoint, policy, pod] = await Promise.all([
      job ? cached : this.ensureFinalizer(cached),
      typeof policyRef === 'string' ? this.lookUpPolicy(policyRef) : undefined,
      job ? ({ found: false } as PodFacts) : this.lookUpPod(cached),
    ]);

    const decision = decideCheckpoint({
      checkpoint,
      policy,
      pod,
      job: jobFacts(job),
      expectedJobName,
      settings: this.deps.decideSettings,
      containerHeldBy: (container) => this.deps.busy.heldByOther(container, key),
      nodeFull: (node) => this.deps.nodeSlots.fullFor(node, key),
      node: nodeOf(pod, checkpoint, this.deps.nodes),
    });
    // Claimed in the same turn as the check above, so no other reconcile can start a second Job.
    if (decision.kind === 'startJob') {
      const target = decision.input.target;
      this.deps.busy.claim(containerKey(target.namespace, target.podName, target.containerName), key);
      this.deps.nodeSlots.claim(decision.nodeName, key);
    }
    if (decision.kind !== 'nothing' && decision.kind !== 'wait') log.debug({ decision: decision.kind }, 'decided');
    return this.apply(checkpoint, decision, expectedJobName, log);
  }

  private async apply(
    checkpointAsDecided: Checkpoint,
    decision: CheckpointDecision,
    expectedJobName: string,
    log: Logger,
  ): Promise<ReconcileOutcome> {
    const now = new Date(this.deps.clock.now());
    let checkpoint = checkpointAsDecided;
    const ref = { namespace: checkpoint.metadata.namespace!, name: checkpoint.metadata.name };
    switch (decision.kind) {
      case 'nothing':
        return { kind: 'done' };
      case 'wait':
        return { kind: 'requeueAfter', ms: RESYNC_RUNNING_MS };
      case 'waitForContainer':
        this.deps.busy.wait(decision.container, `${ref.namespace}/${ref.name}`);
        log.debug(
          { container: decision.container, holder: decision.holder },
          "waiting for the container's current checkpoint to finish",
        );
        return { kind: 'requeueAfter', ms: RESYNC_WAITING_MS };
      case 'waitForNodeSlot':
        this.deps.nodeSlots.wait(decision.node, `${ref.namespace}/${ref.name}`);
        log.debug({ node: decision.node, running: decision.running }, 'waiting for a checkpoint Job slot on the node');
        return { kind: 'requeueAfter', ms: RESYNC_WAITING_FOR_NODE_MS };
      case 'fail':
        await this.fail(checkpoint, decision.reason, decision.message, now, log);
        return { kind: 'done' };
      case 'startJob': {
        // Before the Job exists: whatever it stores is then always cleaned up with the Checkpoint.
        // (Normally already added while the facts were gathered.)
        checkpoint = await this.ensureFinalizer(checkpoint);
        if (decision.input.storage.backend === 'pvc') {
          const refused = await this.ensureClaimFor(checkpoint, decision.input.storage.claimName);
          if (refused) {
            await this.fail(checkpoint, 'InvalidClaimTemplate', refused, now, log);
            return { kind: 'done' };
          }
        }
        let input = decision.input;
        let secretData: Record<string, string> = {};
        if (input.storage.backend === 's3') {
          const content = await readS3SecretContent(
            this.deps.lean,
            this.deps.jobSettings.namespace,
            decision.s3Secrets ?? {},
            this.deps.s3DefaultCredentialsSecret,
          );
          if (!content.ok) {
            await this.fail(checkpoint, content.reason, content.message, now, log);
            return { kind: 'done' };
          }
          secretData = content.data;
          input = {
            ...input,
            storage: { ...input.storage, credentials: content.credentials, caBundle: content.caBundle },
          };
        }
        const job = buildCheckpointJob(input, { ...this.deps.jobSettings, ...activeTraceContext() });
        let created: boolean;
        try {
          ({ created } = await launchJob(this.deps.lean, {
            job,
            secretData,
            secretLabels: ownerLabels('checkpoint', { ...ref, uid: checkpoint.metadata.uid! }),
          }));
        } catch (err) {
          this.deps.busy.release(`${ref.namespace}/${ref.name}`);
          this.deps.nodeSlots.release(`${ref.namespace}/${ref.name}`);
          throw err;
        }
        await patchCheckpointStatus(
          this.deps.lean,
          ref,
          runningStatus(
            checkpoint,
            { jobName: expectedJobName, nodeName: decision.nodeName, containerName: decision.containerName },
            now,
          ),
          checkpoint.metadata.resourceVersion,
        );
        if (created) {
          log.info(
            { job: expectedJobName, node: decision.nodeName, container: decision.containerName },
            'checkpoint Job created',
          );
          this.event(
            checkpoint,
            'Normal',
            'JobCreated',
            `Job ${this.deps.jobSettings.namespace}/${expectedJobName} checkpoints container ${decision.containerName} on node ${decision.nodeName}`,
          );
          // Said on every Checkpoint it applies to, so nobody relies on it without knowing.
          if (input.kubelet.insecureSkipTLSVerify) {
            this.event(
              checkpoint,
              'Warning',
              'KubeletTLSUnverified',
              `the kubelet on node ${decision.nodeName} is reached without verifying its certificate (KUBELET_INSECURE_SKIP_TLS_VERIFY=true): whoever answers at its address receives the checkpoint request and its token`,
            );
          }
        }
        return { kind: 'requeueAfter', ms: RESYNC_RUNNING_MS };
      }
      case 'markRunning': {
        const job = this.deps.jobs.get(expectedJobName, this.deps.jobSettings.namespace);
        const spec = job?.spec?.template.spec;
        await patchCheckpointStatus(
          this.deps.lean,
          ref,
          runningStatus(
            checkpoint,
            {
              jobName: expectedJobName,
              nodeName: pinnedNode(spec) ?? checkpoint.status?.nodeName ?? '',
              containerName: checkpoint.status?.containerName ?? checkpoint.spec.target.containerName ?? '',
            },
            now,
          ),
          checkpoint.metadata.resourceVersion,
        );
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

  /**
   * Adds the archive-cleanup finalizer; returns the Checkpoint as it now is (a newer
   * resourceVersion, which later status writes are guarded by).
   */
  private async ensureFinalizer(checkpoint: Checkpoint): Promise<Checkpoint> {
    const finalizers = checkpoint.metadata.finalizers ?? [];
    if (finalizers.includes(ARCHIVE_FINALIZER)) return checkpoint;
    try {
      return await this.deps.lean.mergePatch<Checkpoint>(
        `/apis/${API_GROUP}/${API_VERSION}/namespaces/${checkpoint.metadata.namespace}/${CHECKPOINT_PLURAL}/${checkpoint.metadata.name}`,
        {
          metadata: {
            finalizers: [...finalizers, ARCHIVE_FINALIZER],
            resourceVersion: checkpoint.metadata.resourceVersion,
          },
        },
      );
    } catch (err) {
      if (isConflict(err))
        throw new ConflictError(
          `Checkpoint ${checkpoint.metadata.namespace}/${checkpoint.metadata.name} changed while being updated`,
        );
      throw err;
    }
  }

  private async fail(checkpoint: Checkpoint, reason: string, message: string, now: Date, log: Logger): Promise<void> {
    const ref = { namespace: checkpoint.metadata.namespace!, name: checkpoint.metadata.name };
    await patchCheckpointStatus(
      this.deps.lean,
      ref,
      failedStatus(checkpoint, reason, message, now),
      checkpoint.metadata.resourceVersion,
    );
    log.warn({ reason }, `checkpoint failed: ${message}`);
    this.event(checkpoint, 'Warning', reason, message);
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

  private lookUpPolicy(name: string): Promise<PolicyLookup> {
    return lookUpPolicy(this.deps.policies, this.deps.lean, name);
  }

  private async lookUpPod(checkpoint: Checkpoint): Promise<PodFacts> {
    const target = checkpoint.spec?.target;
    if (!target?.podName) return { found: false };
    let pod: V1Pod;
    try {
      pod = await this.deps.lean.get<V1Pod>(
        `/api/v1/namespaces/${target.namespace ?? checkpoint.metadata.namespace!}/pods/${target.podName}`,
      );
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
      return await this.deps.lean.get<V1Job>(
        `/apis/batch/v1/namespaces/${this.deps.jobSettings.namespace}/jobs/${name}`,
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async readCheckpoint(ref: { namespace: string; name: string }): Promise<Checkpoint | undefined> {
    try {
      return await this.deps.lean.get<Checkpoint>(apiPaths.checkpoint(ref));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Creates the claim of the Checkpoint's policy's pvcTemplate when it is missing. Returns why,
   * when the API server refuses the template's claim: no retry can change that, only the policy.
   */
  private async ensureClaimFor(checkpoint: Checkpoint, claimName: string): Promise<string | undefined> {
    const policyRef = checkpoint.spec.policyRef;
    const policy = policyRef
      ? (this.deps.policies.get(policyRef) ??
        (await this.lookUpPolicy(policyRef).then((p) => (p.found ? p.policy : undefined))))
      : undefined;
    const template = policy?.spec.storage?.pvcTemplate;
    if (!template || policy.spec.storage?.pvc?.claimName === claimName) return undefined;
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
      return `the API server refuses claim ${this.deps.jobSettings.namespace}/${claimName} made from the pvcTemplate of CheckpointPolicy ${policy.metadata.name}: ${apiMessage(err)}`;
    }
  }
}

export { ConflictError };

/** The node a Checkpoint is about: its pod's, or once its Job runs, the one it recorded. */
function nodeOf(pod: PodFacts, checkpoint: Checkpoint, nodes: NodeLister): NodeFacts | null | undefined {
  const name = pod.found ? pod.nodeName : checkpoint.status?.nodeName;
  return name ? nodes.node(name) : undefined;
}

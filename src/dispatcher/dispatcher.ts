import type { V1Job, V1Node } from '@kubernetes/client-node';
import type { Checkpoint } from '../api/checkpoint.js';
import type { CheckpointPolicy } from '../api/checkpoint-policy.js';
import { API_GROUP, API_VERSION, CHECKPOINT_PLURAL, CHECKPOINT_POLICY_PLURAL } from '../api/constants.js';
import { type Clock, systemClock } from '../clock/clock.js';
import type { KubeClients } from '../kube/client.js';
import { EventRecorder } from '../kube/events.js';
import { fromKubeConfig } from '../kube/credentials.js';
import { LeanKubeClient } from '../kube/lean-client.js';
import { ResilientInformer } from '../kube/informer.js';
import type { Lister } from '../kube/lister.js';
import { projectJob } from './job-projection.js';
import { finishedJobSecret } from './finished-job-secret.js';
import { JOB_SERVICE_ACCOUNTS, LABELS, MANAGED_BY } from '../kube/names.js';
import { ConflictError, isNotFound } from '../kube/errors.js';
import { WorkQueue } from '../kube/work-queue.js';
import type { Logger } from '../observability/logger.js';
import type { DispatcherMetrics } from '../observability/metrics.js';
import { deletePushGroup } from '../observability/pushgateway.js';
import { tracingEnvForJobs, withSpan } from '../observability/tracing.js';
import { BusyContainers } from './checkpoints/busy-containers.js';
import { NodeSlots } from './checkpoints/node-slots.js';
import { CheckpointReconciler } from './checkpoints/reconciler.js';
import { RestoreReconciler } from './restores/reconciler.js';
import { PolicyReconciler } from './policies/reconciler.js';
import { checkpointWatches } from './checkpoints/watches.js';
import { restoreWatches } from './restores/watches.js';
import { policyWatches } from './policies/watches.js';
import { sweepPushOwner } from '../actions/sweep/job-input.js';
import { PodMetadataWatch } from '../kube/metadata-watch.js';
import { TokenBucket } from '../kube/token-bucket.js';
import type { DispatcherConfig } from './config.js';
import { type NodeLister, nodeFacts, projectNode } from './runtime-support.js';
import { deleteFinishedJobs, finishedJobFacts, finishedJobsToDelete, restoreJobsInFlight } from './finished-jobs.js';
import { decodeWorkKey, encodeWorkKey, objectKey, type WorkKey } from './work-key.js';

/** How often finished Jobs are looked at: their count stays near FINISHED_JOBS_KEPT, whatever the rate. */
const FINISHED_JOBS_EVERY_MS = 30_000;

export interface DispatcherOptions {
  config: DispatcherConfig;
  clients: KubeClients;
  jobImage: string;
  log: Logger;
  clock?: Clock;
  concurrency?: number;
  /** Prometheus metrics; none in benchmarks and tests that do not read them. */
  metrics?: DispatcherMetrics;
}

/**
 * Wires caches, the work queue and the reconcilers. Informers start at once (a standby replica
 * keeps warm caches); reconciling starts only when `startReconciling` is called by the leader.
 */
export class Dispatcher {
  readonly checkpoints: ResilientInformer<Checkpoint>[];
  readonly policies: ResilientInformer<CheckpointPolicy>;
  readonly jobs: ResilientInformer<V1Job>;
  /** Nodes, each cut to its name, labels and versions: what checkpoints and restores are checked against. */
  readonly nodes: ResilientInformer<V1Node>;
  readonly queue: WorkQueue;
  /** Pod metadata, for restore requests: nothing about pods is cached but the keys below. */
  readonly podWatches: PodMetadataWatch[];
  /** Pods carrying restore annotations, so a new leader can look at each once. */
  private readonly restorePods = new Set<string>();
  /** Finished Jobs whose per-Job Secret this replica has deleted; pruned when the Job goes. */
  private readonly finishedJobSecrets = new Set<string>();
  private readonly informerIndex = new Map<string, ResilientInformer<Checkpoint>>();
  private readonly busyContainers: BusyContainers;
  private readonly nodeSlots: NodeSlots;
  private readonly lean: LeanKubeClient;
  readonly events: EventRecorder;
  private leading = false;

  constructor(private readonly options: DispatcherOptions) {
    const { config, clients, log } = options;
    const clock = options.clock ?? systemClock;
    const kc = clients.kubeConfig;
    this.lean = new LeanKubeClient(
      fromKubeConfig(kc),
      () => clock.now(),
      undefined,
      new TokenBucket(config.kubeApiQps, config.kubeApiBurst, clock),
    );
    this.events = new EventRecorder(this.lean, config.operatorName, log, clock);
    const base = `/apis/${API_GROUP}/${API_VERSION}`;
    const namespaces = config.watchNamespaces.length > 0 ? config.watchNamespaces : [undefined];
    this.checkpoints = namespaces.map((ns) => {
      const informer = new ResilientInformer<Checkpoint>({
        kubeConfig: kc,
        log,
        clock,
        path: ns ? `${base}/namespaces/${ns}/${CHECKPOINT_PLURAL}` : `${base}/${CHECKPOINT_PLURAL}`,
      });
      this.informerIndex.set(ns ?? '*', informer);
      return informer;
    });
    this.policies = new ResilientInformer<CheckpointPolicy>({
      kubeConfig: kc,
      log,
      clock,
      path: `${base}/${CHECKPOINT_POLICY_PLURAL}`,
    });
    const selector = `${LABELS.managedBy}=${MANAGED_BY}`;
    this.jobs = new ResilientInformer<V1Job>({
      kubeConfig: kc,
      log,
      clock,
      path: `/apis/batch/v1/namespaces/${config.jobNamespace}/jobs`,
      labelSelector: selector,
      // Only what the dispatcher reads of a Job (see projectJob): not its pod template.
      transform: projectJob,
    });

    this.nodes = new ResilientInformer<V1Node>({
      kubeConfig: kc,
      log,
      clock,
      path: '/api/v1/nodes',
      transform: projectNode,
    });
    const nodeLister: NodeLister = {
      node: (name) => {
        const node = this.nodes.get(name);
        return node ? nodeFacts(node) : null;
      },
    };

    const mayStillCheckpoint = (key: string) => {
      const [namespace, name] = key.split('/') as [string, string];
      const c = this.checkpointInformerFor(namespace)?.get(name, namespace);
      return (
        c !== undefined &&
        !c.metadata.deletionTimestamp &&
        c.status?.phase !== 'Succeeded' &&
        c.status?.phase !== 'Failed'
      );
    };
    // Both name Checkpoints by `namespace/name`.
    const wakeCheckpoint = (key: string) => {
      const [namespace, name] = key.split('/') as [string, string];
      this.enqueue({ kind: 'checkpoint', namespace, name });
    };
    this.busyContainers = new BusyContainers(mayStillCheckpoint, wakeCheckpoint);
    this.nodeSlots = new NodeSlots(config.maxCheckpointJobsPerNode, mayStillCheckpoint, wakeCheckpoint);
    // One cache per watched namespace; reconcilers read them as one.
    const checkpointsView: Lister<Checkpoint> = {
      get: (name, namespace) => this.checkpointInformerFor(namespace)?.get(name, namespace),
    };
    const jobSettings = {
      namespace: config.jobNamespace,
      image: options.jobImage,
      serviceAccountName: JOB_SERVICE_ACCOUNTS.checkpoint,
      logLevel: config.logLevel,
      pushgatewayUrl: config.pushgatewayUrl,
      passThroughEnv: tracingEnvForJobs(),
    };
    const reconciler = new CheckpointReconciler({
      checkpoints: checkpointsView,
      policies: this.policies,
      jobs: this.jobs,
      lean: this.lean,
      events: this.events,
      clock,
      log,
      decideSettings: {
        kubeletAccess: config.kubeletAccess,
        kubeletPort: config.kubeletPort,
        localStorageRoots: config.localStorageRoots,
        kubeletCABundleSecret: config.kubeletCABundleSecret,
        kubeletInsecureSkipTLSVerify: config.kubeletInsecureSkipTLSVerify,
      },
      s3DefaultCredentialsSecret: config.s3DefaultCredentialsSecret,
      restoreDefaults: config.restoreDefaults,
      jobSettings,
      busy: this.busyContainers,
      nodeSlots: this.nodeSlots,
      nodes: nodeLister,
      onCheckpointReleased: (archive) => options.metrics?.checkpointDeletions.inc({ archive }),
    });
    this.podWatches = namespaces.map(
      (ns) =>
        new PodMetadataWatch({
          kubeConfig: kc,
          namespace: ns,
          log,
          clock,
          onObject: (meta, kind) => {
            const pod = { namespace: meta.namespace!, name: meta.name!, annotations: meta.annotations };
            const key = objectKey(pod);
            const { tracked, keys } = kind === 'delete' ? { tracked: false, keys: [] } : restoreWatches.pod(pod);
            if (tracked) this.restorePods.add(key);
            else this.restorePods.delete(key);
            this.enqueue(...keys);
          },
        }),
    );
    const metrics = options.metrics;
    const restores = new RestoreReconciler({
      checkpoints: checkpointsView,
      policies: this.policies,
      jobs: this.jobs,
      lean: this.lean,
      events: this.events,
      clock,
      log,
      jobSettings,
      defaults: config.restoreDefaults,
      s3DefaultCredentialsSecret: config.s3DefaultCredentialsSecret,
      nodes: nodeLister,
      onResult: (status) => metrics?.restoreTotal.inc({ status }),
    });
    const policyReconciler = new PolicyReconciler({
      policies: this.policies,
      lean: this.lean,
      events: this.events,
      clock,
      log,
      jobSettings,
      sweepServiceAccount: JOB_SERVICE_ACCOUNTS.sweep,
      s3DefaultCredentialsSecret: config.s3DefaultCredentialsSecret,
    });
    // One span per reconcile: the Jobs it creates continue its trace (TRACEPARENT).
    const route = async (encoded: string) => {
      const key = decodeWorkKey(encoded);
      switch (key.kind) {
        case 'finishedJobs':
          await this.deleteFinishedJobs();
          return { kind: 'requeueAfter' as const, ms: FINISHED_JOBS_EVERY_MS };
        case 'policy':
          return withSpan('reconcile policy', { name: key.name, action: 'policy' }, () =>
            policyReconciler.reconcile(key.name),
          );
        case 'restore':
          return withSpan(
            'reconcile restore',
            { 'k8s.namespace.name': key.namespace, name: key.name, action: 'restore' },
            () => restores.reconcile(objectKey(key)),
          );
        case 'checkpoint':
          return withSpan(
            'reconcile checkpoint',
            { 'k8s.namespace.name': key.namespace, name: key.name, action: 'checkpoint' },
            () => reconciler.reconcile(objectKey(key)),
          );
      }
    };
    const reconcile = metrics
      ? async (key: string) => {
          const stop = metrics.reconcileDuration.startTimer();
          try {
            const outcome = await route(key);
            stop({ result: outcome.kind === 'done' ? 'done' : 'requeue' });
            return outcome;
          } catch (err) {
            stop({ result: 'error' });
            metrics.reconcileErrors.inc();
            throw err;
          }
        }
      : route;
    this.queue = new WorkQueue(reconcile, {
      concurrency: options.concurrency ?? 16,
      clock,
      onError: (key, err, retryInMs) => {
        const fields = { key, err: String((err as Error)?.message ?? err), retryInMs };
        // A guarded write that met a newer object: routine while our caches catch up with our own
        // last write (one per new Checkpoint when the Job's event overtakes the status's), and
        // decided again from the newer object. Not worth a warning on every Checkpoint.
        if (err instanceof ConflictError) log.debug(fields, 'reconcile decided on an outdated object; deciding again');
        else log.warn(fields, 'reconcile failed; retrying');
      },
    });

    for (const informer of this.checkpoints) {
      informer.onChange((c, kind) => {
        this.busyContainers.observe(c, kind === 'delete');
        this.nodeSlots.observe(c, kind === 'delete');
        if (kind === 'delete') {
          metrics?.forget(c.metadata.uid);
          this.dropPushGroup(c);
          return;
        }
        metrics?.observe(c);
        this.enqueue(...checkpointWatches.checkpoint(c), ...restoreWatches.checkpoint(c));
      });
    }
    this.nodes.onChange((node, kind) => {
      if (kind === 'delete')
        this.enqueue(
          ...checkpointWatches.nodeDeleted(
            node.metadata?.name,
            this.checkpoints.flatMap((i) => i.list()),
          ),
        );
    });
    this.policies.onChange((policy, kind) => {
      if (kind === 'delete') {
        this.dropSweepPushGroup(policy.metadata.name);
        return;
      }
      this.enqueue(...policyWatches.policy(policy));
    });
    this.jobs.onChange((job, kind) => {
      if (kind === 'delete') this.finishedJobSecrets.delete(job.metadata?.name ?? '');
      else this.dropFinishedJobSecret(job);
      // A deleted Job matters too: a Checkpoint (or restore) still Running without its Job can
      // never finish, and is decided now (JobLost) rather than at the next unrelated event.
      this.enqueue(...checkpointWatches.job(job), ...restoreWatches.job(job));
    });
  }

  /** Starts the caches; resolves once every one has listed. */
  async startCaches(): Promise<void> {
    await Promise.all([
      ...this.checkpoints.map((i) => i.start()),
      this.policies.start(),
      this.jobs.start(),
      this.nodes.start(),
      ...this.podWatches.map((w) => w.start()),
    ]);
  }

  private enqueue(...keys: WorkKey[]): void {
    for (const key of keys) this.queue.add(encodeWorkKey(key));
  }

  get queueDepth(): number {
    return this.queue.depth;
  }

  get cachesSynced(): boolean {
    return [...this.checkpoints, this.policies, this.jobs, this.nodes, ...this.podWatches].every((i) => i.hasSynced);
  }

  /** Leader only: queue everything once (level-based), then follow changes. */
  startReconciling(): void {
    this.leading = true;
    this.options.metrics?.becameLeader();
    for (const informer of this.checkpoints) {
      for (const c of informer.list()) this.enqueue(...checkpointWatches.checkpoint(c));
    }
    for (const key of this.restorePods) {
      const [namespace, name] = key.split('/') as [string, string];
      this.enqueue({ kind: 'restore', namespace, name });
    }
    for (const policy of this.policies.list()) this.enqueue(...policyWatches.policy(policy));
    for (const job of this.jobs.list()) this.dropFinishedJobSecret(job);
    this.enqueue({ kind: 'finishedJobs' });
    this.queue.start();
  }

  /** Deletes finished Jobs whose results are recorded, but the newest few of each action. */
  private async deleteFinishedJobs(): Promise<void> {
    const checkpoints = this.checkpoints.flatMap((i) => i.list());
    const facts = finishedJobFacts(
      this.jobs.list(),
      (namespace, name) => this.checkpointInformerFor(namespace)?.get(name, namespace),
      restoreJobsInFlight(checkpoints),
    );
    const doomed = finishedJobsToDelete(facts, this.options.config.finishedJobsKept);
    if (doomed.length > 0)
      await deleteFinishedJobs(this.lean, this.options.config.jobNamespace, doomed, this.options.log);
  }

  stopReconciling(): void {
    this.leading = false;
    this.queue.stop();
  }

  async stop(): Promise<void> {
    this.queue.stop();
    for (const w of this.podWatches) w.stop();
    await Promise.all([
      ...this.checkpoints.map((i) => i.stop()),
      this.policies.stop(),
      this.jobs.stop(),
      this.nodes.stop(),
    ]);
    await this.events.flush();
    await this.lean.close();
  }

  /**
   * A finished Job's per-Job Secret (credentials copied for it) is deleted at once, whatever
   * became of the request it served: a superseded restore must not leave credentials behind.
   */
  private dropFinishedJobSecret(job: V1Job): void {
    const name = finishedJobSecret(job);
    if (!this.leading || !name || this.finishedJobSecrets.has(name)) return;
    this.finishedJobSecrets.add(name);
    this.lean.delete(`/api/v1/namespaces/${this.options.config.jobNamespace}/secrets/${name}`).catch((err: unknown) => {
      if (isNotFound(err)) return;
      this.finishedJobSecrets.delete(name);
      this.options.log.warn(
        { job: name, err: String((err as Error)?.message ?? err) },
        "could not delete a finished Job's Secret",
      );
    });
  }

  /** The Pushgateway keeps groups for ever: the leader removes a deleted Checkpoint's. */
  private dropPushGroup(c: Checkpoint): void {
    const url = this.options.config.pushgatewayUrl;
    if (!url || !this.leading) return;
    const owner = { namespace: c.metadata.namespace!, name: c.metadata.name };
    for (const action of ['checkpoint', 'restore', 'cleanup']) {
      deletePushGroup(url, action, owner).catch((err: Error) =>
        this.options.log.warn(
          { ...owner, action, pushgateway: url, err: err.message },
          'could not delete the Pushgateway group',
        ),
      );
    }
  }

  private dropSweepPushGroup(policyName: string): void {
    const url = this.options.config.pushgatewayUrl;
    if (!url || !this.leading) return;
    deletePushGroup(url, 'sweep', sweepPushOwner(policyName)).catch((err: Error) =>
      this.options.log.warn(
        { name: policyName, action: 'sweep', pushgateway: url, err: err.message },
        'could not delete the Pushgateway group',
      ),
    );
  }

  private checkpointInformerFor(namespace: string | undefined): ResilientInformer<Checkpoint> | undefined {
    return this.informerIndex.get('*') ?? (namespace ? this.informerIndex.get(namespace) : undefined);
  }
}

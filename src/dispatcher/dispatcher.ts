import type { KubernetesListObject, V1Job } from '@kubernetes/client-node';
import type { Checkpoint } from '../api/checkpoint.js';
import type { CheckpointPolicy } from '../api/checkpoint-policy.js';
import { API_GROUP, API_VERSION, CHECKPOINT_PLURAL, CHECKPOINT_POLICY_PLURAL } from '../api/constants.js';
import { type Clock, systemClock } from '../clock/clock.js';
import type { KubeClients } from '../kube/client.js';
import { EventRecorder } from '../kube/events.js';
import { fromKubeConfig } from '../kube/credentials.js';
import { LeanKubeClient } from '../kube/lean-client.js';
import { ResilientInformer } from '../kube/informer.js';
import { LABELS, MANAGED_BY } from '../kube/names.js';
import { WorkQueue } from '../kube/work-queue.js';
import type { Logger } from '../observability/logger.js';
import type { DispatcherMetrics } from '../observability/metrics.js';
import { deletePushGroup } from '../observability/pushgateway.js';
import { CheckpointReconciler } from './checkpoints/reconciler.js';
import type { DispatcherConfig } from './config.js';

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
  readonly queue: WorkQueue;
  private readonly informerIndex = new Map<string, ResilientInformer<Checkpoint>>();
  private readonly lean: LeanKubeClient;
  readonly events: EventRecorder;
  private leading = false;

  constructor(private readonly options: DispatcherOptions) {
    const { config, clients, log } = options;
    const clock = options.clock ?? systemClock;
    const kc = clients.kubeConfig;
    this.lean = new LeanKubeClient(fromKubeConfig(kc), () => clock.now());
    this.events = new EventRecorder(this.lean, config.operatorName, log, clock);
    const base = `/apis/${API_GROUP}/${API_VERSION}`;
    const namespaces = config.watchNamespaces.length > 0 ? config.watchNamespaces : [undefined];
    this.checkpoints = namespaces.map((ns) => {
      const informer = new ResilientInformer<Checkpoint>({
        kubeConfig: kc, log, clock,
        path: ns ? `${base}/namespaces/${ns}/${CHECKPOINT_PLURAL}` : `${base}/${CHECKPOINT_PLURAL}`,
        list: () => (ns
          ? clients.custom.listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: CHECKPOINT_PLURAL })
          : clients.custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: CHECKPOINT_PLURAL })) as Promise<KubernetesListObject<Checkpoint>>,
      });
      this.informerIndex.set(ns ?? '*', informer);
      return informer;
    });
    this.policies = new ResilientInformer<CheckpointPolicy>({
      kubeConfig: kc, log, clock, path: `${base}/${CHECKPOINT_POLICY_PLURAL}`,
      list: () => clients.custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: CHECKPOINT_POLICY_PLURAL }) as Promise<KubernetesListObject<CheckpointPolicy>>,
    });
    const selector = `${LABELS.managedBy}=${MANAGED_BY}`;
    this.jobs = new ResilientInformer<V1Job>({
      kubeConfig: kc, log, clock, path: `/apis/batch/v1/namespaces/${config.jobNamespace}/jobs`, labelSelector: selector,
      list: () => clients.batch.listNamespacedJob({ namespace: config.jobNamespace, labelSelector: selector }),
    });

    const checkpointsView = {
      get: (name: string, namespace?: string) => this.checkpointInformerFor(namespace)?.get(name, namespace),
    } as ResilientInformer<Checkpoint>;
    const reconciler = new CheckpointReconciler({
      checkpoints: checkpointsView,
      policies: this.policies,
      jobs: this.jobs,
      lean: this.lean,
      custom: clients.custom,
      events: this.events,
      clock,
      log,
      decideSettings: { kubeletAccess: config.kubeletAccess, kubeletPort: config.kubeletPort, localStorageRoots: config.localStorageRoots },
      s3DefaultCredentialsSecret: config.s3DefaultCredentialsSecret,
      jobSettings: {
        namespace: config.jobNamespace,
        image: options.jobImage,
        serviceAccountName: 'checkpoint-operator-job',
        logLevel: config.logLevel,
        pushgatewayUrl: config.pushgatewayUrl,
      },
    });
    const metrics = options.metrics;
    const reconcile = metrics
      ? async (key: string) => {
          const stop = metrics.reconcileDuration.startTimer();
          try {
            const outcome = await reconciler.reconcile(key);
            stop({ result: outcome.kind === 'done' ? 'done' : 'requeue' });
            return outcome;
          } catch (err) {
            stop({ result: 'error' });
            metrics.reconcileErrors.inc();
            throw err;
          }
        }
      : (key: string) => reconciler.reconcile(key);
    this.queue = new WorkQueue(reconcile, {
      concurrency: options.concurrency ?? 16,
      clock,
      onError: (key, err, retryInMs) => log.warn({ key, err: String((err as Error)?.message ?? err), retryInMs }, 'reconcile failed; retrying'),
    });

    for (const informer of this.checkpoints) {
      informer.onChange((c, kind) => {
        if (kind === 'delete') {
          metrics?.forget(c.metadata.uid);
          this.dropPushGroup(c);
          return;
        }
        metrics?.observe(c);
        this.queue.add(`${c.metadata.namespace}/${c.metadata.name}`);
      });
    }
    this.jobs.onChange((job) => {
      const labels = job.metadata?.labels ?? {};
      if (labels[LABELS.action] === 'checkpoint' && labels[LABELS.ownerNamespace] && labels[LABELS.ownerName]) {
        this.queue.add(`${labels[LABELS.ownerNamespace]}/${labels[LABELS.ownerName]}`);
      }
    });
  }

  /** Starts the caches; resolves once every one has listed. */
  async startCaches(): Promise<void> {
    await Promise.all([...this.checkpoints.map((i) => i.start()), this.policies.start(), this.jobs.start()]);
  }

  get queueDepth(): number {
    return this.queue.depth;
  }

  get cachesSynced(): boolean {
    return [...this.checkpoints, this.policies, this.jobs].every((i) => i.hasSynced);
  }

  /** Leader only: queue everything once (level-based), then follow changes. */
  startReconciling(): void {
    this.leading = true;
    this.options.metrics?.becameLeader();
    for (const informer of this.checkpoints) {
      for (const c of informer.list()) this.queue.add(`${c.metadata.namespace}/${c.metadata.name}`);
    }
    this.queue.start();
  }

  stopReconciling(): void {
    this.leading = false;
    this.queue.stop();
  }

  async stop(): Promise<void> {
    this.queue.stop();
    await Promise.all([...this.checkpoints.map((i) => i.stop()), this.policies.stop(), this.jobs.stop()]);
    await this.events.flush();
    await this.lean.close();
  }

  /** The Pushgateway keeps groups for ever: the leader removes a deleted Checkpoint's. */
  private dropPushGroup(c: Checkpoint): void {
    const url = this.options.config.pushgatewayUrl;
    if (!url || !this.leading) return;
    const owner = { namespace: c.metadata.namespace!, name: c.metadata.name };
    deletePushGroup(url, 'checkpoint', owner).catch((err: Error) =>
      this.options.log.warn({ ...owner, pushgateway: url, err: err.message }, 'could not delete the Pushgateway group'));
  }

  private checkpointInformerFor(namespace: string | undefined): ResilientInformer<Checkpoint> | undefined {
    return this.informerIndex.get('*') ?? (namespace ? this.informerIndex.get(namespace) : undefined);
  }
}

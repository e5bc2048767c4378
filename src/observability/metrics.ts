import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Checkpoint } from '../api/checkpoint.js';
import type { Clock } from '../clock/clock.js';
import { checkpointOutcome } from './checkpoint-outcomes.js';

const PREFIX = 'checkpoint_operator_';

/**
 * The dispatcher's Prometheus metrics. The seed names are kept exactly; results are counted by
 * the leader only (see checkpointOutcome), so two replicas never double a count.
 */
export class DispatcherMetrics {
  readonly registry = new Registry();
  private readonly counted = new Set<string>();
  private leaderSince: number | undefined;
  private newestSuccess: number | undefined;

  readonly checkpointTotal = new Counter({
    name: `${PREFIX}checkpoint_total`,
    help: "Checkpoints that reached a result under this replica's leadership, by result.",
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly restoreTotal = new Counter({
    name: `${PREFIX}restore_total`,
    help: 'Restores that reached a result, by result.',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly checkpointDuration = new Histogram({
    name: `${PREFIX}checkpoint_duration_seconds`,
    help: "From a Checkpoint's start to its result, by result.",
    labelNames: ['status'] as const,
    buckets: [1, 2, 5, 10, 30, 60, 120, 300, 900],
    registers: [this.registry],
  });
  readonly archiveBytes = new Histogram({
    name: `${PREFIX}archive_size_bytes`,
    help: 'Size of stored checkpoint archives.',
    buckets: [2 ** 20, 2 ** 24, 2 ** 26, 2 ** 28, 2 ** 30, 2 ** 32, 2 ** 34],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: `${PREFIX}reconcile_duration_seconds`,
    help: 'Time spent in one reconcile, by outcome (done, requeue, error).',
    labelNames: ['result'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly checkpointDeletions = new Counter({
    name: `${PREFIX}checkpoint_deletions_total`,
    help: 'Deleted Checkpoints (by hand or by retention) let go, by what became of the archive: deleted, retained (reclaimPolicy Retain) or none (nothing was stored).',
    labelNames: ['archive'] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: `${PREFIX}reconcile_errors_total`,
    help: 'Reconciles that failed and were retried with backoff.',
    registers: [this.registry],
  });

  constructor(private readonly opts: { clock: Clock; queueDepth: () => number }) {
    for (const status of ['created', 'failed']) {
      this.checkpointTotal.inc({ status }, 0);
    }
    for (const status of ['success', 'failed']) this.restoreTotal.inc({ status }, 0);
    for (const archive of ['deleted', 'retained', 'none']) this.checkpointDeletions.inc({ archive }, 0);
    // prom-client calls collect() with the metric as `this`: what it reads of this class comes through these.
    const newestAgeSeconds = () =>
      this.newestSuccess === undefined ? undefined : (this.opts.clock.now() - this.newestSuccess) / 1000;
    const queueDepth = () => this.opts.queueDepth();
    const leading = () => this.leaderSince !== undefined;
    new Gauge({
      name: `${PREFIX}checkpoint_age_seconds`,
      help: 'Seconds since the newest successful checkpoint this replica has seen (absent before the first).',
      registers: [this.registry],
      collect() {
        this.reset();
        const age = newestAgeSeconds();
        if (age !== undefined) this.set(age);
      },
    });
    new Gauge({
      name: `${PREFIX}work_queue_depth`,
      help: 'Checkpoints waiting to be reconciled.',
      registers: [this.registry],
      collect() {
        this.set(queueDepth());
      },
    });
    new Gauge({
      name: `${PREFIX}leader`,
      help: '1 while this replica holds the leader Lease and reconciles.',
      registers: [this.registry],
      collect() {
        this.set(leading() ? 1 : 0);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  becameLeader(): void {
    this.leaderSince = this.opts.clock.now();
  }

  /** Called for every Checkpoint the dispatcher sees; counts each result once. */
  observe(c: Checkpoint): void {
    if (c.status?.phase === 'Succeeded' && c.status.completionTime) {
      const at = Date.parse(String(c.status.completionTime));
      if (!Number.isNaN(at) && (this.newestSuccess === undefined || at > this.newestSuccess)) this.newestSuccess = at;
    }
    if (this.leaderSince === undefined) return;
    const outcome = checkpointOutcome(c, this.leaderSince);
    if (!outcome || this.counted.has(outcome.uid)) return;
    this.counted.add(outcome.uid);
    this.checkpointTotal.inc({ status: outcome.status });
    if (outcome.durationSeconds !== undefined)
      this.checkpointDuration.observe({ status: outcome.status }, outcome.durationSeconds);
    if (outcome.sizeBytes !== undefined) this.archiveBytes.observe(outcome.sizeBytes);
  }

  forget(uid: string | undefined): void {
    if (uid) this.counted.delete(uid);
  }
}

/** Serves /metrics on its own port (METRICS_PORT), apart from the health probes. */
export function startMetricsServer(port: number, registry: Registry, host = '0.0.0.0'): Promise<Server> {
  const server = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

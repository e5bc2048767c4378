import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { makeClients, loadKubeConfig } from '../kube/client.js';
import { LeaderElector, kubernetesLeaseStore } from '../kube/leader-election.js';
import { systemClock } from '../clock/clock.js';
import { startHealthServer } from '../observability/health-server.js';
import { DispatcherMetrics, startMetricsServer } from '../observability/metrics.js';
import { createLogger } from '../observability/logger.js';
import { startTracing } from '../observability/tracing.js';
import { describeWatchScope, parseConfig } from './config.js';
import { Dispatcher } from './dispatcher.js';
import { resolveJobImage } from './job-image.js';

/** The in-pod path where Kubernetes mounts the ServiceAccount's namespace. */
const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function readServiceAccountNamespace(): string | undefined {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

const result = parseConfig({
  env: process.env,
  argv: process.argv.slice(2),
  hostname: hostname(),
  serviceAccountNamespace: readServiceAccountNamespace(),
});
if (!result.ok) {
  // One line a person can act on.
  process.stderr.write(`${result.message}\n`);
  process.exit(2);
}
const config = result.config;
const log = createLogger('dispatcher', config.logLevel);
log.info({ watchNamespaces: config.watchNamespaces, operatorNamespace: config.operatorNamespace, jobNamespace: config.jobNamespace, podName: config.podName },
  `${config.operatorName} starting: ${describeWatchScope(config)}`);

// Tracing is an aid: a broken exporter set-up is reported and the operator runs without it.
const tracing = await startTracing(config.operatorName).catch((err: Error) => {
  log.error({ err: err.message }, 'could not start tracing; continuing without it');
  return undefined;
});
if (tracing) log.info({ endpoint: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT }, 'exporting traces over OTLP');
const clients = makeClients(loadKubeConfig());
let jobImage: string;
try {
  jobImage = await resolveJobImage(clients.core, config.jobImage, config.podName, config.operatorNamespace);
} catch (err) {
  log.error((err as Error).message);
  process.exit(2);
}
// Both replicas serve /metrics; only the leader counts results (see DispatcherMetrics).
const metrics = new DispatcherMetrics({ clock: systemClock, queueDepth: (): number => dispatcher.queueDepth });
const dispatcher: Dispatcher = new Dispatcher({ config, clients, jobImage, log, metrics });
const health = await startHealthServer(config.healthProbePort, () => dispatcher.cachesSynced);
const metricsServer = await startMetricsServer(config.metricsPort, metrics.registry);
await dispatcher.startCaches();
log.info({ jobImage }, 'caches synced');

const elector = config.leaderElection.enabled
  ? new LeaderElector({
      identity: config.podName,
      leaseDurationMs: config.leaderElection.leaseDurationMs,
      renewDeadlineMs: config.leaderElection.renewDeadlineMs,
      retryPeriodMs: config.leaderElection.retryPeriodMs,
      store: kubernetesLeaseStore(clients.coordination, config.operatorNamespace, config.leaderElection.leaseName),
      log,
      onStartedLeading: () => dispatcher.startReconciling(),
      // A replica that lost the lease must not act again on stale beliefs: exit, and let the
      // Deployment restart it as a fresh standby (as controller-runtime does).
      onStoppedLeading: () => { if (!shuttingDown) { log.error('lost leadership; exiting'); process.exit(1); } },
    })
  : undefined;
if (elector) elector.start();
else dispatcher.startReconciling();

let shuttingDown = false;
async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log.info({ signal }, 'shutting down');
  await elector?.stop();
  await dispatcher.stop();
  await tracing?.shutdown();
  health.close();
  metricsServer.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { makeClients, loadKubeConfig } from '../kube/client.js';
import { LeaderElector, kubernetesLeaseStore } from '../kube/leader-election.js';
import { systemClock } from '../clock/clock.js';
import { startHealthServer } from '../observability/health-server.js';
import { DispatcherMetrics, startMetricsServer } from '../observability/metrics.js';
import { CachedAccessReviews } from '../observability/metrics-access.js';
import { kubernetesAccessReviews } from '../observability/kubernetes-access-reviews.js';
import { startSecureMetricsServer } from '../observability/secure-metrics-server.js';
import { createLogger } from '../observability/logger.js';
import { startTracing, type Tracing } from '../observability/tracing.js';
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
log.info(
  {
    watchNamespaces: config.watchNamespaces,
    operatorNamespace: config.operatorNamespace,
    jobNamespace: config.jobNamespace,
    podName: config.podName,
  },
  `${config.operatorName} starting: ${describeWatchScope(config)}`,
);

// Tracing is an aid: a broken exporter set-up is reported and the operator runs without it.
// Loading the SDK takes a second or more of CPU; it proceeds while the job image is read and the
// caches fill, which are mostly waits on the API server.
let tracing: Tracing | undefined;
const tracingStarted = startTracing(config.operatorName)
  .then((t) => {
    tracing = t;
    if (t)
      log.info(
        { endpoint: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT },
        'exporting traces over OTLP',
      );
  })
  .catch((err: Error) => log.error({ err: err.message }, 'could not start tracing; continuing without it'));
// Probes are answered from the start: a replica that waits on a restarting API server to read
// its own pod is alive, only not ready, and its liveness probe must not kill it for that.
let ready = (): boolean => false;
const health = await startHealthServer(config.healthProbePort, () => ready());
const clients = makeClients(loadKubeConfig());
let jobImage: string;
try {
  jobImage = await resolveJobImage(clients.core, config.jobImage, config.podName, config.operatorNamespace, {
    onRetry: (err, retryInMs) =>
      log.warn(
        { err: String((err as Error)?.message ?? err), retryInMs },
        'could not read our own pod to find the image for Jobs; asking again',
      ),
  });
} catch (err) {
  log.error((err as Error).message);
  process.exit(2);
}
// Both replicas serve /metrics; only the leader counts results (see DispatcherMetrics).
const metrics = new DispatcherMetrics({ clock: systemClock, queueDepth: (): number => dispatcher.queueDepth });
const dispatcher: Dispatcher = new Dispatcher({ config, clients, jobImage, log, metrics });
ready = () => dispatcher.cachesSynced;
const metricsServer = await startMetricsServer(config.metricsPort, metrics.registry, config.metricsBindAddress);
const metricsService = `${config.operatorName}-metrics.${config.operatorNamespace}.svc`;
const secureMetricsServer =
  config.metricsSecurePort === undefined
    ? undefined
    : await startSecureMetricsServer({
        port: config.metricsSecurePort,
        registry: metrics.registry,
        log,
        certDir: config.metricsCertDir,
        reviews: new CachedAccessReviews(kubernetesAccessReviews(clients.kubeConfig), systemClock),
        dnsNames: [metricsService, `${metricsService}.cluster.local`, 'localhost'],
      }).catch((err: Error) => {
        log.error({ err: err.message, certDir: config.metricsCertDir }, 'could not serve metrics on the secure port');
        process.exit(2);
      });
log.info(
  { plain: `${config.metricsBindAddress}:${config.metricsPort}`, secure: config.metricsSecurePort },
  'serving metrics',
);
let shuttingDown = false;

// The lease is sought while the caches fill, as controller-runtime elects while its caches start:
// a leader restarted after a crash takes its lease back and has its caches in the time of the
// longer of the two, not of both, and acts only once both are done.
const readyToAct = Promise.all([
  dispatcher.startCaches().then(() => log.info({ jobImage }, 'caches synced')),
  tracingStarted,
]);
const elector = config.leaderElection.enabled
  ? new LeaderElector({
      identity: config.podName,
      leaseDurationMs: config.leaderElection.leaseDurationMs,
      renewDeadlineMs: config.leaderElection.renewDeadlineMs,
      retryPeriodMs: config.leaderElection.retryPeriodMs,
      store: kubernetesLeaseStore(clients.coordination, config.operatorNamespace, config.leaderElection.leaseName),
      log,
      onStartedLeading: () =>
        void readyToAct.then(
          () => {
            if (!shuttingDown) dispatcher.startReconciling();
          },
          () => undefined,
        ),
      // A replica that lost the lease must not act again on stale beliefs: exit, and let the
      // Deployment restart it as a fresh standby (as controller-runtime does).
      onStoppedLeading: () => {
        if (!shuttingDown) {
          log.error('lost leadership; exiting');
          process.exit(1);
        }
      },
    })
  : undefined;
elector?.start();
// A cache that cannot list (RBAC, a missing CRD) ends the process here, as before the lease.
await readyToAct;
if (!elector) dispatcher.startReconciling();

async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log.info({ signal }, 'shutting down');
  await elector?.stop();
  await dispatcher.stop();
  await tracing?.shutdown();
  health.close();
  metricsServer.close();
  secureMetricsServer?.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

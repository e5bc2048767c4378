import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateCa, issueServingCert } from '../cluster/pki.js';
import { SERVICE_ACCOUNT_DIR } from '../../src/kube/credentials.js';
import { CHECKPOINT_JOB_INPUT_ENV } from '../../src/actions/checkpoint/job-input.js';
import type { Figure } from './figures.js';

const root = join(import.meta.dirname, '../..');
const run = promisify(execFile);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Job start-up: from spawning the checkpoint Job program (dist/jobs/checkpoint.js, as the image
 * runs it) to its first request to the API server, against a bare `node -e 0` run to exit, in
 * alternating runs. The Job runs in a private mount namespace with a ServiceAccount directory
 * bound where Kubernetes mounts it, and talks to a local HTTPS server standing in for the API
 * server (only the arrival of the first request is measured).
 */
export async function jobStartupBenchmark(runs = 15): Promise<Figure[]> {
  // The bundles measured are the ones this checkout builds, never a stale dist/.
  await run(process.execPath, [join(root, 'node_modules/tsup/dist/cli-default.js')], { cwd: root });
  const dir = await mkdtemp(join(tmpdir(), 'bench-startup-'));
  try {
    const ca = await generateCa(dir, 'ca', 'bench CA');
    const serving = await issueServingCert(ca, 'api', '127.0.0.1', { ips: ['127.0.0.1'] });
    const sa = join(dir, 'sa');
    await mkdir(sa);
    await writeFile(join(sa, 'token'), 'bench-token');
    await writeFile(join(sa, 'ca.crt'), await readFile(ca.caCert));
    await writeFile(join(sa, 'namespace'), 'checkpoint-operator-system');
    let firstRequest: (() => void) | undefined;
    const server = createServer(
      { cert: await readFile(serving.cert), key: await readFile(serving.key) },
      (_req, res) => {
        firstRequest?.();
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const input = JSON.stringify({
      checkpoint: { namespace: 'bench', name: 'c', uid: 'u' },
      target: { namespace: 'bench', podName: 'p', containerName: 'main' },
      nodeName: 'n',
      kubelet: { access: 'direct', port: 10250 },
      storage: { backend: 'local', nodeName: 'n', path: '/var/lib/checkpoint-operator/x' },
    });
    // Tracing on: the SDK and its OTLP exporter load before the first request (spans go to a
    // port nothing listens on, which costs nothing until the Job flushes at its end).
    const tracingEnv = {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
      TRACEPARENT: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    };
    const job = async (tracing = false): Promise<number> => {
      const started = performance.now();
      const arrived = new Promise<number>((resolve) => {
        firstRequest = () => {
          firstRequest = undefined;
          resolve(performance.now() - started);
        };
      });
      const child = spawn(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          '--',
          'sh',
          '-c',
          `mkdir -p ${SERVICE_ACCOUNT_DIR} && mount --bind ${sa} ${SERVICE_ACCOUNT_DIR} && exec "$@"`,
          'job',
          process.execPath,
          join(root, 'dist/jobs/checkpoint.js'),
        ],
        {
          env: {
            PATH: process.env.PATH,
            KUBERNETES_SERVICE_HOST: '127.0.0.1',
            KUBERNETES_SERVICE_PORT: String(port),
            [CHECKPOINT_JOB_INPUT_ENV]: input,
            LOG_LEVEL: 'error',
            ...(tracing ? tracingEnv : {}),
          },
          stdio: 'ignore',
        },
      );
      const ms = await arrived;
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      return ms;
    };
    // Through the same mount-namespace wrapper, so only what node itself does differs.
    const bare = async (): Promise<number> => {
      const started = performance.now();
      const child = spawn(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          '--',
          'sh',
          '-c',
          `mkdir -p ${SERVICE_ACCOUNT_DIR} && mount --bind ${sa} ${SERVICE_ACCOUNT_DIR} && exec "$@"`,
          'bare',
          process.execPath,
          '-e',
          '0',
        ],
        { stdio: 'ignore' },
      );
      await new Promise((r) => child.once('exit', r));
      return performance.now() - started;
    };
    // Alternating, after one warm-up of each (page cache, not the measured runs).
    await job();
    await job(true);
    await bare();
    const jobs: number[] = [];
    const traced: number[] = [];
    const bares: number[] = [];
    for (let i = 0; i < runs; i++) {
      jobs.push(await job());
      traced.push(await job(true));
      bares.push(await bare());
    }
    server.close();
    return [
      {
        name: `checkpoint Job start-up to its first API request, tracing off (median of ${runs})`,
        value: median(jobs),
        unit: 'ms',
        baseline: median(bares),
        baselineName: 'bare `node -e 0` through the same wrapper, spawn to exit',
        target: { maxRatio: 2.5 },
      },
      {
        name: `checkpoint Job start-up to its first API request, tracing on (OTLP exporter loaded; median of ${runs})`,
        value: median(traced),
        unit: 'ms',
        baseline: median(bares),
        baselineName: 'bare `node -e 0` through the same wrapper, spawn to exit',
        target: undefined,
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort } from '../cluster/ports.js';
import { clusterContext } from './support/cluster-context.js';
import { kubectl } from './support/kube.js';
import { TcpGate } from './support/tcp-gate.js';

const run = promisify(execFile);
/** The dispatcher build the cluster runs. */
const manager = () => join(clusterContext().imageDir, 'manager.js');

/** Starts the built dispatcher as a process, the way the image's /manager does. */
async function startManager(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [manager(), ...args], {
      env: { PATH: process.env.PATH, KUBECONFIG: clusterContext().kubeconfig, ...env },
      timeout: 20_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('dispatcher start-up', () => {
  it('stops with one clear message and exit code 2 on invalid configuration', async () => {
    const r = await startManager({ LOG_LEVEL: 'loud', METRICS_PORT: '99999', WATCH_NAMESPACE: 'Team A' }, [
      '--leader-elect',
      '--bogus',
    ]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^invalid configuration: /);
    for (const part of ['--bogus', 'LOG_LEVEL', 'METRICS_PORT', 'WATCH_NAMESPACE']) expect(lines[0]).toContain(part);
  });

  it('stops with a clear message when it cannot find the image for its Jobs', async () => {
    const r = await startManager({ POD_NAME: 'not-a-pod', POD_NAMESPACE: 'checkpoint-operator-system' });
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toContain(
      'JOB_IMAGE is not set and pod checkpoint-operator-system/not-a-pod could not be read',
    );
  });

  it('answers /healthz at once, and /readyz only once its caches have synced', async () => {
    // The dispatcher reaches the real API server through a gate that first holds every connection.
    const kubeconfig = parse(await readFile(clusterContext().kubeconfig, 'utf8'));
    const server = new URL(kubeconfig.clusters[0].cluster.server);
    const gate = await TcpGate.start({ host: server.hostname, port: Number(server.port) });
    server.host = `127.0.0.1:${gate.port}`;
    kubeconfig.clusters[0].cluster.server = server.origin;
    const gatedKubeconfig = join(clusterContext().clusterDir, 'gated-kubeconfig.yaml');
    await writeFile(gatedKubeconfig, stringify(kubeconfig), { mode: 0o600 });
    // An empty namespace of its own, so this second dispatcher has nothing to act on.
    await kubectl(['create', 'namespace', 'readiness-e2e']).catch(() => undefined);
    const [healthPort, metricsPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, [manager()], {
      env: {
        PATH: process.env.PATH,
        KUBECONFIG: gatedKubeconfig,
        JOB_IMAGE: 'checkpoint-operator:e2e',
        WATCH_NAMESPACE: 'readiness-e2e',
        JOB_NAMESPACE: 'readiness-e2e',
        POD_NAMESPACE: 'readiness-e2e',
        HEALTH_PROBE_PORT: String(healthPort),
        METRICS_PORT: String(metricsPort),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const probe = async (path: string) => {
      try {
        const res = await fetch(`http://127.0.0.1:${healthPort}${path}`, { signal: AbortSignal.timeout(2000) });
        return { status: res.status, body: await res.text() };
      } catch {
        return { status: 0, body: '' };
      }
    };
    try {
      const deadline = Date.now() + 15_000;
      while ((await probe('/healthz')).status !== 200) {
        if (Date.now() > deadline) throw new Error(`the health server never answered:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // Alive but not ready, for as long as the API server answers nothing.
      for (let i = 0; i < 5; i++) {
        expect(await probe('/healthz')).toEqual({ status: 200, body: 'ok' });
        expect(await probe('/readyz')).toEqual({ status: 503, body: 'caches not synced' });
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(output).not.toContain('caches synced');
      gate.release();
      const readyBy = Date.now() + 30_000;
      while ((await probe('/readyz')).status !== 200) {
        if (Date.now() > readyBy) throw new Error(`never ready after the API server answered:\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(await probe('/readyz')).toEqual({ status: 200, body: 'ok' });
      expect(output).toContain('caches synced');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await gate.close();
    }
  });
});

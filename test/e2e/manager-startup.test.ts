import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { clusterContext } from './support/cluster-context.js';

const run = promisify(execFile);
const manager = join(import.meta.dirname, '../../dist/manager.js');

/** Starts the built dispatcher as a process, the way the image's /manager does. */
async function startManager(env: Record<string, string>, args: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [manager, ...args], {
      env: { PATH: process.env.PATH, KUBECONFIG: clusterContext().kubeconfig, ...env }, timeout: 20_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('dispatcher start-up', () => {
  it('stops with one clear message and exit code 2 on invalid configuration', async () => {
    const r = await startManager({ LOG_LEVEL: 'loud', METRICS_PORT: '99999', WATCH_NAMESPACE: 'Team A' }, ['--leader-elect', '--bogus']);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^invalid configuration: /);
    for (const part of ['--bogus', 'LOG_LEVEL', 'METRICS_PORT', 'WATCH_NAMESPACE']) expect(lines[0]).toContain(part);
  });

  it('stops with a clear message when it cannot find the image for its Jobs', async () => {
    const r = await startManager({ POD_NAME: 'not-a-pod', POD_NAMESPACE: 'checkpoint-operator-system'});
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toContain('JOB_IMAGE is not set and pod checkpoint-operator-system/not-a-pod could not be read');
  });
});

import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { retrying, kubeletCouldNotActYet, storageMayRecover } from '../../src/actions/checkpoint/retrying.js';
import { KubeletError } from '../../src/kubelet/checkpoint-client.js';
import { BackendError } from '../../src/storage/backend.js';

/** Runs the retry loop on a manual clock, firing its waits as they come due. */
async function run<T>(
  attempt: () => Promise<T>,
  retryable: (err: unknown) => boolean,
  budgetMs = 90_000,
): Promise<{ result: T | Error; retries: number }> {
  const clock = new ManualClock(0);
  let retries = 0;
  const pending = retrying(attempt, {
    retryable,
    clock,
    budgetMs,
    onRetry: () => {
      retries++;
    },
  }).catch((err: Error) => err);
  for (let i = 0; i < 1000; i++) {
    await new Promise((r) => setImmediate(r));
    clock.advance(500);
  }
  return { result: await pending, retries };
}

describe('retrying', () => {
  it('asks the kubelet again while it cannot check credentials, then returns its answer', async () => {
    let calls = 0;
    const { result, retries } = await run(async () => {
      if (++calls < 4)
        throw new KubeletError('KubeletUnauthorized', 'the kubelet refused our credentials: Unauthorized', true);
      return '/var/lib/kubelet/checkpoints/a.tar';
    }, kubeletCouldNotActYet);
    expect(result).toBe('/var/lib/kubelet/checkpoints/a.tar');
    expect(retries).toBe(3);
  });

  it('never asks the kubelet again after an answer that came from the runtime', async () => {
    let calls = 0;
    const { result } = await run(async () => {
      calls++;
      throw new KubeletError('KubeletCheckpointFailed', 'criu failed');
    }, kubeletCouldNotActYet);
    expect(result).toMatchObject({ reason: 'KubeletCheckpointFailed' });
    expect(calls).toBe(1);
  });

  it('tries storage again only while it cannot be reached, and gives up with the last error once the budget is spent', async () => {
    let calls = 0;
    const { result } = await run(
      async () => {
        calls++;
        throw new BackendError('StorageUnreachable', 'cannot reach S3: ECONNREFUSED');
      },
      storageMayRecover,
      30_000,
    );
    expect(result).toMatchObject({ reason: 'StorageUnreachable' });
    expect(calls).toBeGreaterThan(3);
    expect(calls).toBeLessThan(10);

    calls = 0;
    const denied = await run(async () => {
      calls++;
      throw new BackendError('StorageAccessDenied', 'Access Denied');
    }, storageMayRecover);
    expect(denied.result).toMatchObject({ reason: 'StorageAccessDenied' });
    expect(calls).toBe(1);
  });
});

describe('retrying in a process with nothing else to do', () => {
  it("keeps the process alive while it waits to try again (the clock's timers do not)", async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { join } = await import('node:path');
    const root = join(import.meta.dirname, '../..');
    const program = `
      import { retrying } from './src/actions/checkpoint/retrying.ts';
      import { systemClock } from './src/clock/clock.ts';
      let calls = 0;
      const result = await retrying(async () => { if (++calls < 2) throw new Error('not yet'); return 'done after ' + calls; },
        { retryable: () => true, clock: systemClock, budgetMs: 10_000, onRetry: () => undefined });
      console.log(result);`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', program],
      { cwd: root },
    );
    expect(stdout.trim()).toBe('done after 2');
  });
});

import { afterAll, describe, expect, it } from 'vitest';
import { walkthrough, type WalkthroughResult } from '../cluster/walkthrough.js';
import { clusterContext } from './support/cluster-context.js';
import { kubectl } from './support/kube.js';

const lines: string[] = [];
const tour = () => walkthrough({ kubectl, say: (line) => lines.push(line), clusterDir: clusterContext().clusterDir });

afterAll(async () => {
  await kubectl(['delete', 'pod', 'my-app-pod-0', '-n', 'default', '--ignore-not-found', '--wait=true']);
  const names = (
    await kubectl([
      'get',
      'checkpoints.checkpoint.example.com',
      '-n',
      'default',
      '-o',
      'jsonpath={.items[*].metadata.name}',
    ])
  )
    .split(/\s+/)
    .filter((n) => n.startsWith('walkthrough-'));
  if (names.length > 0)
    await kubectl(['delete', 'checkpoints.checkpoint.example.com', '-n', 'default', '--wait=true', ...names]);
  await kubectl([
    'delete',
    'checkpointpolicies.checkpoint.example.com',
    'walkthrough',
    '--ignore-not-found',
    '--wait=true',
  ]);
});

function expectTour(r: WalkthroughResult): void {
  expect(r.checkpoints).toHaveLength(3);
  for (const c of r.checkpoints) {
    expect(c.uri).toMatch(/^local:\/\/node-[ab]\/var\/lib\/checkpoint-operator\/walkthrough\/default\/walkthrough-/);
    expect(c.sha256).toMatch(/^[a-f0-9]{64}$/);
    expect(c.sizeBytes).toBeGreaterThan(0);
  }
  // maxCount 2: the oldest of the three goes, its archive with it.
  expect(r.expired).toEqual([r.checkpoints[0]!.name]);
  expect(r.kept).toEqual([r.checkpoints[1]!.name, r.checkpoints[2]!.name]);
  expect(r.restore.from).toBe(r.checkpoints[2]!.name);
  expect(r.restore.image).toMatch(/\/checkpoints@sha256:[a-f0-9]{64}$/);
  // The same process, brought back: its identity, and a count that went on from the checkpoint's.
  expect(r.counter.restored.id).toBe(r.counter.checkpointed.id);
  expect(r.counter.restored.count).toBeGreaterThanOrEqual(r.counter.checkpointed.count);
}

describe('the npm run local walk-through', () => {
  it('checkpoints the sample workload, sweeps by retention and restores, with readable progress', async () => {
    expectTour(await tour());
    expect(lines.join('\n')).toMatch(
      /step 2\/4.*\n.*counter in memory before .*: \d+ \(process [0-9a-f]{16}\)\n.*Succeeded in [\d.]+s — local:\/\/.*\n.*MiB, sha256 [a-f0-9]{64}; on this machine: \//,
    );
    expect(lines.some((l) => /the counter after the restore: \d+ .*goes on counting/.test(l))).toBe(true);
    expect(lines.some((l) => l.includes('restored in'))).toBe(true);
  }, 400_000);

  it('runs again on the same cluster', async () => {
    expectTour(await tour());
  }, 400_000);
});

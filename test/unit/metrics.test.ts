import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/api/checkpoint.js';
import { ManualClock } from '../../src/clock/clock.js';
import { checkpointOutcome } from '../../src/observability/checkpoint-outcomes.js';
import { DispatcherMetrics } from '../../src/observability/metrics.js';

const T0 = Date.parse('2026-11-26T10:00:00Z');
function ckpt(uid: string, phase: string, completedAt?: number, extra: Record<string, unknown> = {}): Checkpoint {
  return {
    apiVersion: 'checkpoint.example.com/v1alpha1',
    kind: 'Checkpoint',
    metadata: { name: uid, namespace: 'ns', uid },
    spec: { target: { podName: 'p' } },
    status: {
      phase,
      startTime: new Date(T0).toISOString(),
      ...(completedAt !== undefined ? { completionTime: new Date(completedAt).toISOString() } : {}),
      ...extra,
    },
  } as unknown as Checkpoint;
}
const value = async (m: DispatcherMetrics, name: string, labels = '') => {
  const line = (await m.registry.metrics())
    .split('\n')
    .find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.split(' ').pop());
};

describe('checkpointOutcome', () => {
  it('counts terminal Checkpoints finished since the given moment, with duration and size', () => {
    expect(checkpointOutcome(ckpt('a', 'Succeeded', T0 + 5000, { archive: { sizeBytes: 42 } }), T0)).toEqual({
      uid: 'a',
      status: 'created',
      durationSeconds: 5,
      sizeBytes: 42,
      completedAt: T0 + 5000,
    });
    expect(checkpointOutcome(ckpt('b', 'Failed', T0 + 1000), T0)).toMatchObject({
      status: 'failed',
      sizeBytes: undefined,
    });
  });
  it('ignores running ones and results from before', () => {
    expect(checkpointOutcome(ckpt('c', 'Running'), T0)).toBeUndefined();
    expect(checkpointOutcome(ckpt('d', 'Succeeded', T0 - 1), T0)).toBeUndefined();
    expect(checkpointOutcome(ckpt('e', 'Succeeded'), T0)).toBeUndefined();
  });
});

describe('DispatcherMetrics', () => {
  it('exposes the seed counters at zero, counts each result once and only while leading', async () => {
    const clock = new ManualClock(T0);
    const m = new DispatcherMetrics({ clock, queueDepth: () => 7 });
    expect(await value(m, 'checkpoint_operator_checkpoint_total', '{status="created"}')).toBe(0);
    expect(await value(m, 'checkpoint_operator_restore_total', '{status="failed"}')).toBe(0);
    expect(await value(m, 'checkpoint_operator_leader')).toBe(0);
    expect(await value(m, 'checkpoint_operator_work_queue_depth')).toBe(7);

    m.observe(ckpt('standby', 'Succeeded', T0 + 1));
    expect(await value(m, 'checkpoint_operator_checkpoint_total', '{status="created"}')).toBe(0);

    clock.advance(10_000);
    m.becameLeader();
    m.observe(ckpt('old', 'Failed', T0 + 2)); // finished before this replica led: history
    m.observe(ckpt('new', 'Succeeded', T0 + 12_000, { archive: { sizeBytes: 2048 } }));
    m.observe(ckpt('new', 'Succeeded', T0 + 12_000, { archive: { sizeBytes: 2048 } })); // a resync
    m.observe(ckpt('bad', 'Failed', T0 + 13_000));
    expect(await value(m, 'checkpoint_operator_checkpoint_total', '{status="created"}')).toBe(1);
    expect(await value(m, 'checkpoint_operator_checkpoint_total', '{status="failed"}')).toBe(1);
    expect(await value(m, 'checkpoint_operator_leader')).toBe(1);
    expect(await value(m, 'checkpoint_operator_archive_size_bytes_count')).toBe(1);

    clock.advance(20_000);
    expect(await value(m, 'checkpoint_operator_checkpoint_age_seconds')).toBe(18);
  });
});

import { describe, expect, it } from 'vitest';
import type { Checkpoint, CheckpointStatus } from '../../src/api/checkpoint.js';
import { InvalidRetentionError, selectExpired } from '../../src/retention/select-expired.js';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-06-01T12:00:00Z');

interface Made {
  name: string;
  hoursAgo: number;
  phase?: CheckpointStatus['phase'];
  pod?: string;
  container?: string;
  namespace?: string;
  status?: Partial<CheckpointStatus>;
  deleting?: boolean;
}

/** A Checkpoint whose archive was made `hoursAgo` before NOW. */
function checkpoint(m: Made): Checkpoint {
  const at = new Date(NOW - m.hoursAgo * HOUR).toISOString();
  const phase = m.phase ?? 'Succeeded';
  return {
    apiVersion: 'checkpoint.example.com/v1alpha1',
    kind: 'Checkpoint',
    metadata: {
      name: m.name,
      namespace: m.namespace ?? 'team-a',
      uid: `uid-${m.name}`,
      creationTimestamp: at as unknown as Date,
      ...(m.deleting ? { deletionTimestamp: new Date(NOW).toISOString() as unknown as Date } : {}),
    },
    spec: { target: { podName: m.pod ?? 'web-0', containerName: m.container ?? 'app' }, policyRef: 'p' },
    status: {
      phase,
      ...(phase === 'Succeeded'
        ? {
            completionTime: at,
            archive: { backend: 's3', uri: `s3://b/${m.name}`, sizeBytes: 1, sha256: 'a'.repeat(64), createdAt: at },
          }
        : {}),
      ...(phase === 'Failed' ? { completionTime: at } : {}),
      ...m.status,
    },
  };
}

const names = (list: Checkpoint[]) => list.map((c) => c.metadata.name).sort();
const expiredNames = (r: ReturnType<typeof selectExpired>) =>
  r.expired.map((e) => `${e.checkpoint.metadata.name}:${e.reason}`).sort();

describe('selectExpired', () => {
  it('keeps the newest maxCount succeeded checkpoints of a container', () => {
    const list = [1, 5, 3, 2, 4].map((h) => checkpoint({ name: `c${h}`, hoursAgo: h }));
    const r = selectExpired(list, { maxCount: 2 }, NOW);
    expect(names(r.kept)).toEqual(['c1', 'c2']);
    expect(expiredNames(r)).toEqual(['c3:MaxCount', 'c4:MaxCount', 'c5:MaxCount']);
    expect(r.protectedByRestore).toEqual([]);
  });

  it('counts per target container: pod, container and target namespace', () => {
    const list = [
      checkpoint({ name: 'a1', hoursAgo: 1 }),
      checkpoint({ name: 'a2', hoursAgo: 2 }),
      checkpoint({ name: 'side1', hoursAgo: 1, container: 'side' }),
      checkpoint({ name: 'side2', hoursAgo: 2, container: 'side' }),
      checkpoint({ name: 'web1', hoursAgo: 3, pod: 'web-1' }),
      checkpoint({ name: 'b1', hoursAgo: 4, namespace: 'team-b' }),
    ];
    const r = selectExpired(list, { maxCount: 1 }, NOW);
    expect(names(r.kept)).toEqual(['a1', 'b1', 'side1', 'web1']);
    expect(expiredNames(r)).toEqual(['a2:MaxCount', 'side2:MaxCount']);
  });

  it('groups by the target namespace when given, and by the defaulted container recorded in status', () => {
    const other = checkpoint({ name: 'x1', hoursAgo: 1, namespace: 'ops' });
    other.spec.target = { podName: 'web-0', namespace: 'team-a' };
    other.status!.containerName = 'app';
    const r = selectExpired([other, checkpoint({ name: 'a2', hoursAgo: 2 })], { maxCount: 1 }, NOW);
    expect(names(r.kept)).toEqual(['x1']);
    expect(expiredNames(r)).toEqual(['a2:MaxCount']);
  });

  it('expires terminal checkpoints older than maxAge, succeeded or failed', () => {
    const list = [
      checkpoint({ name: 'young', hoursAgo: 71 }),
      checkpoint({ name: 'old', hoursAgo: 73 }),
      checkpoint({ name: 'old-failed', hoursAgo: 80, phase: 'Failed' }),
      checkpoint({ name: 'young-failed', hoursAgo: 1, phase: 'Failed' }),
    ];
    const r = selectExpired(list, { maxAge: '72h' }, NOW);
    expect(names(r.kept)).toEqual(['young', 'young-failed']);
    expect(expiredNames(r)).toEqual(['old-failed:MaxAge', 'old:MaxAge']);
  });

  it('measures age from the archive time, then completion, then creation', () => {
    const c = checkpoint({ name: 'c', hoursAgo: 100 });
    c.status!.archive!.createdAt = new Date(NOW - HOUR).toISOString();
    const failed = checkpoint({ name: 'f', hoursAgo: 100, phase: 'Failed' });
    failed.status!.completionTime = new Date(NOW - HOUR).toISOString();
    const created = checkpoint({ name: 'n', hoursAgo: 100, phase: 'Failed', status: { completionTime: undefined } });
    const r = selectExpired([c, failed, created], { maxAge: '2h' }, NOW);
    expect(names(r.kept)).toEqual(['c', 'f']);
    expect(expiredNames(r)).toEqual(['n:MaxAge']);
  });

  it('applies both limits together, naming MaxAge when both apply', () => {
    const list = [1, 2, 3, 50, 60].map((h) => checkpoint({ name: `c${h}`, hoursAgo: h }));
    const r = selectExpired(list, { maxCount: 2, maxAge: '48h' }, NOW);
    expect(names(r.kept)).toEqual(['c1', 'c2']);
    expect(expiredNames(r)).toEqual(['c3:MaxCount', 'c50:MaxAge', 'c60:MaxAge']);
  });

  it('never counts failed checkpoints toward maxCount', () => {
    const list = [
      checkpoint({ name: 'f1', hoursAgo: 1, phase: 'Failed' }),
      checkpoint({ name: 'f2', hoursAgo: 2, phase: 'Failed' }),
      checkpoint({ name: 's3', hoursAgo: 3 }),
      checkpoint({ name: 's4', hoursAgo: 4 }),
      checkpoint({ name: 's5', hoursAgo: 5 }),
    ];
    const r = selectExpired(list, { maxCount: 2 }, NOW);
    expect(names(r.kept)).toEqual(['f1', 'f2', 's3', 's4']);
    expect(expiredNames(r)).toEqual(['s5:MaxCount']);
  });

  it('never expires a checkpoint a restore is reading, which still uses up its maxCount place', () => {
    const restoring = (result: 'Pending' | 'Running' | 'Succeeded') => ({
      restores: [{ podName: 'web-0', namespace: 'team-a', result }],
    });
    const list = [
      checkpoint({ name: 'c1', hoursAgo: 1, status: restoring('Running') }),
      checkpoint({ name: 'c2', hoursAgo: 2 }),
      checkpoint({ name: 'c3', hoursAgo: 3 }),
      checkpoint({ name: 'c4', hoursAgo: 4, status: restoring('Pending') }),
      checkpoint({ name: 'c5', hoursAgo: 5, status: restoring('Succeeded') }),
      checkpoint({ name: 'old', hoursAgo: 500, status: restoring('Running') }),
    ];
    const r = selectExpired(list, { maxCount: 2, maxAge: '72h' }, NOW);
    // c1 is within maxCount anyway; c4 and old would have expired.
    expect(names(r.kept)).toEqual(['c1', 'c2']);
    expect(names(r.protectedByRestore)).toEqual(['c4', 'old']);
    expect(expiredNames(r)).toEqual(['c3:MaxCount', 'c5:MaxCount']);
  });

  it('ignores checkpoints that are not terminal or are being deleted', () => {
    const list = [
      checkpoint({ name: 'pending', hoursAgo: 100, phase: 'Pending' }),
      checkpoint({ name: 'running', hoursAgo: 100, phase: 'Running' }),
      checkpoint({ name: 'deleting-phase', hoursAgo: 100, phase: 'Deleting' }),
      checkpoint({ name: 'deleting', hoursAgo: 100, deleting: true }),
      checkpoint({ name: 'kept', hoursAgo: 1 }),
    ];
    const noStatus = checkpoint({ name: 'new', hoursAgo: 100 });
    delete noStatus.status;
    const r = selectExpired([...list, noStatus], { maxCount: 1, maxAge: '1h' }, NOW);
    expect(r.expired).toEqual([]);
    expect(names(r.kept)).toEqual(['kept']);
    expect(r.protectedByRestore).toEqual([]);
  });

  it('breaks ties in time by name, the same way whatever the input order', () => {
    const make = () => ['ckpt-a', 'ckpt-c', 'ckpt-b'].map((name) => checkpoint({ name, hoursAgo: 1 }));
    const forward = selectExpired(make(), { maxCount: 1 }, NOW);
    const backward = selectExpired(make().reverse(), { maxCount: 1 }, NOW);
    expect(names(forward.kept)).toEqual(['ckpt-c']);
    expect(names(backward.kept)).toEqual(['ckpt-c']);
    expect(expiredNames(backward)).toEqual(expiredNames(forward));
  });

  it('expires nothing without limits', () => {
    const list = [1, 200, 5000].map((h) => checkpoint({ name: `c${h}`, hoursAgo: h }));
    const r = selectExpired(list, {}, NOW);
    expect(r.expired).toEqual([]);
    expect(names(r.kept)).toEqual(['c1', 'c200', 'c5000']);
  });

  it('refuses a maxAge that is not a positive Go duration rather than ignoring it', () => {
    expect(() => selectExpired([], { maxAge: '3 days' }, NOW)).toThrow(InvalidRetentionError);
    expect(() => selectExpired([], { maxAge: '0s' }, NOW)).toThrow(InvalidRetentionError);
  });
});

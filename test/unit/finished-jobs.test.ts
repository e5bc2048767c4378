import type { V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/api/checkpoint.js';
import {
  type FinishedJob,
  finishedJobFacts,
  finishedJobsToDelete,
  restoreJobsInFlight,
} from '../../src/dispatcher/finished-jobs.js';

const finished = (
  name: string,
  action: FinishedJob['action'],
  finishedAt: number,
  resultRecorded = true,
): FinishedJob => ({ name, uid: `uid-${name}`, action, finishedAt, resultRecorded });

describe('finishedJobsToDelete', () => {
  it('keeps the newest few of each action and deletes the older ones whose results are recorded', () => {
    const jobs = [
      finished('c1', 'checkpoint', 1),
      finished('c2', 'checkpoint', 2),
      finished('c3', 'checkpoint', 3),
      finished('r1', 'restore', 1),
    ];
    expect(
      finishedJobsToDelete(jobs, 1)
        .map((j) => j.name)
        .sort(),
    ).toEqual(['c1', 'c2']);
    expect(
      finishedJobsToDelete(jobs, 0)
        .map((j) => j.name)
        .sort(),
    ).toEqual(['c1', 'c2', 'c3', 'r1']);
    expect(finishedJobsToDelete(jobs, 10)).toEqual([]);
  });

  it('never deletes a Job whose result is not recorded, however old; it still counts among those kept', () => {
    const jobs = [
      finished('old-unrecorded', 'checkpoint', 1, false),
      finished('c2', 'checkpoint', 2),
      finished('c3', 'checkpoint', 3),
    ];
    expect(
      finishedJobsToDelete(jobs, 0)
        .map((j) => j.name)
        .sort(),
    ).toEqual(['c2', 'c3']);
    expect(finishedJobsToDelete(jobs, 1).map((j) => j.name)).toEqual(['c2']);
  });
});

const job = (
  name: string,
  action: string,
  owner: { ns: string; name: string; uid?: string },
  conditions: V1Job['status'] = {
    conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: new Date(5000) }],
  },
): V1Job => ({
  metadata: {
    name,
    uid: `u-${name}`,
    labels: {
      'checkpoint.example.com/action': action,
      'checkpoint.example.com/owner-namespace': owner.ns,
      'checkpoint.example.com/owner-name': owner.name,
      ...(owner.uid ? { 'checkpoint.example.com/owner-uid': owner.uid } : {}),
    },
  },
  status: conditions,
});
const ckpt = (
  name: string,
  phase: string | undefined,
  uid = 'ck-uid',
  restores: NonNullable<Checkpoint['status']>['restores'] = [],
): Checkpoint =>
  ({
    apiVersion: 'checkpoint.example.com/v1alpha1',
    kind: 'Checkpoint',
    metadata: { name, namespace: 'a', uid },
    spec: { target: { podName: 'p' } },
    status: { ...(phase ? { phase } : {}), restores },
  }) as Checkpoint;

describe('finishedJobFacts: what counts as recorded', () => {
  const lookup = (list: Checkpoint[]) => (ns: string, name: string) =>
    list.find((c) => c.metadata.namespace === ns && c.metadata.name === name);

  it('a checkpoint Job once its Checkpoint is terminal or gone (or re-created under the same name); never one still running', () => {
    const cks = [ckpt('done', 'Succeeded'), ckpt('busy', 'Running'), ckpt('again', 'Running', 'new-uid')];
    const facts = finishedJobFacts(
      [
        job('j-done', 'checkpoint', { ns: 'a', name: 'done', uid: 'ck-uid' }),
        job('j-busy', 'checkpoint', { ns: 'a', name: 'busy', uid: 'ck-uid' }),
        job('j-gone', 'checkpoint', { ns: 'a', name: 'gone', uid: 'ck-uid' }),
        job('j-again', 'checkpoint', { ns: 'a', name: 'again', uid: 'old-uid' }),
        job('j-running', 'checkpoint', { ns: 'a', name: 'gone' }, { active: 1 }),
      ],
      lookup(cks),
      new Set(),
    );
    expect(Object.fromEntries(facts.map((f) => [f.name, f.resultRecorded]))).toEqual({
      'j-done': true,
      'j-busy': false,
      'j-gone': true,
      'j-again': true,
    });
    expect(facts[0]!.finishedAt).toBe(5000);
  });

  it("a cleanup Job once its Checkpoint is gone; a restore Job once no record waits on it; sweep Jobs are the CronJob's", () => {
    const cks = [
      ckpt('deleting', 'Succeeded', 'ck-uid', [
        { podName: 'p', namespace: 'a', jobName: 'j-restore-waited', result: 'Running' } as never,
      ]),
    ];
    const facts = finishedJobFacts(
      [
        job('j-cleanup-deleting', 'cleanup', { ns: 'a', name: 'deleting', uid: 'ck-uid' }),
        job('j-cleanup-gone', 'cleanup', { ns: 'a', name: 'gone', uid: 'ck-uid' }),
        job('j-restore-waited', 'restore', { ns: 'a', name: 'p' }),
        job('j-restore-done', 'restore', { ns: 'a', name: 'p' }),
        job('j-sweep', 'sweep', { ns: 'a', name: 'policy' }),
      ],
      lookup(cks),
      restoreJobsInFlight(cks),
    );
    expect(Object.fromEntries(facts.map((f) => [f.name, f.resultRecorded]))).toEqual({
      'j-cleanup-deleting': false,
      'j-cleanup-gone': true,
      'j-restore-waited': false,
      'j-restore-done': true,
    });
  });
});

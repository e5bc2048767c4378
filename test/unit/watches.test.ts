import type { V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/api/checkpoint.js';
import {
  RESTORE_FROM_ANNOTATION,
  RESTORE_HANDLED_ANNOTATION,
  RESTORE_STATUS_ANNOTATION,
} from '../../src/api/constants.js';
import { LABELS } from '../../src/kube/names.js';
import { checkpointWatches } from '../../src/dispatcher/checkpoints/watches.js';
import { handledMarker } from '../../src/dispatcher/restores/decide.js';
import { restoreWatches } from '../../src/dispatcher/restores/watches.js';

const job = (action: string, owner = { namespace: 'team-a', name: 'nightly' }): V1Job => ({
  metadata: {
    name: 'j',
    labels: { [LABELS.action]: action, [LABELS.ownerNamespace]: owner.namespace, [LABELS.ownerName]: owner.name },
  },
});
const checkpoint = (status: Partial<NonNullable<Checkpoint['status']>> = {}): Checkpoint =>
  ({
    apiVersion: 'checkpoint.example.com/v1alpha1',
    kind: 'Checkpoint',
    metadata: { name: 'nightly', namespace: 'team-a', uid: 'u' },
    spec: { target: { podName: 'app-0' } },
    status,
  }) as unknown as Checkpoint;

describe('which events each reconciler hears', () => {
  it('sends a checkpoint or cleanup Job to its Checkpoint, a restore Job to its pod, and an unlabelled Job nowhere', () => {
    expect(checkpointWatches.job(job('checkpoint'))).toEqual([
      { kind: 'checkpoint', namespace: 'team-a', name: 'nightly' },
    ]);
    expect(checkpointWatches.job(job('cleanup'))).toEqual([
      { kind: 'checkpoint', namespace: 'team-a', name: 'nightly' },
    ]);
    expect(checkpointWatches.job(job('restore'))).toEqual([]);
    expect(restoreWatches.job(job('restore', { namespace: 'team-a', name: 'app-0' }))).toEqual([
      { kind: 'restore', namespace: 'team-a', name: 'app-0' },
    ]);
    expect(restoreWatches.job(job('checkpoint'))).toEqual([]);
    expect(checkpointWatches.job({ metadata: { name: 'other' } })).toEqual([]);
  });

  it('wakes only the Running Checkpoints of a node that was deleted', () => {
    const running = checkpoint({ phase: 'Running', nodeName: 'node-a' });
    const elsewhere = {
      ...checkpoint({ phase: 'Running', nodeName: 'node-b' }),
      metadata: { name: 'other', namespace: 'team-a', uid: 'v' },
    } as Checkpoint;
    const done = {
      ...checkpoint({ phase: 'Succeeded', nodeName: 'node-a' }),
      metadata: { name: 'done', namespace: 'team-a', uid: 'w' },
    } as Checkpoint;
    expect(checkpointWatches.nodeDeleted('node-a', [running, elsewhere, done])).toEqual([
      { kind: 'checkpoint', namespace: 'team-a', name: 'nightly' },
    ]);
  });

  it('looks again at the pods whose restore from a Checkpoint is still in flight', () => {
    const c = checkpoint({
      restores: [
        { namespace: 'team-a', podName: 'pending', result: 'Pending' },
        { namespace: 'team-a', podName: 'running', result: 'Running' },
        { namespace: 'team-a', podName: 'finished', result: 'Succeeded' },
      ],
    } as unknown as Partial<NonNullable<Checkpoint['status']>>);
    expect(restoreWatches.checkpoint(c).map((k) => 'name' in k && k.name)).toEqual(['pending', 'running']);
  });

  it('tracks a pod with a restore annotation, queues it until its request has a result, and forgets a pod without one', () => {
    const pod = (annotations: Record<string, string>) => ({ namespace: 'team-a', name: 'app-0', annotations });
    expect(restoreWatches.pod(pod({}))).toEqual({ tracked: false, keys: [] });
    expect(restoreWatches.pod(pod({ [RESTORE_FROM_ANNOTATION]: 'nightly' }))).toEqual({
      tracked: true,
      keys: [{ kind: 'restore', namespace: 'team-a', name: 'app-0' }],
    });
    const finished = {
      [RESTORE_FROM_ANNOTATION]: 'nightly',
      [RESTORE_HANDLED_ANNOTATION]: handledMarker('nightly'),
      [RESTORE_STATUS_ANNOTATION]: 'Succeeded',
    };
    expect(restoreWatches.pod(pod(finished))).toEqual({ tracked: true, keys: [] });
    expect(restoreWatches.pod(pod({ ...finished, [RESTORE_STATUS_ANNOTATION]: 'Pending' })).keys).toHaveLength(1);
  });
});

import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/api/checkpoint.js';
import { NodeSlots } from '../../src/dispatcher/checkpoints/node-slots.js';

function slots(limit: number) {
  const finished = new Set<string>();
  const woken: string[] = [];
  const s = new NodeSlots(
    limit,
    (key) => !finished.has(key),
    (key) => woken.push(key),
  );
  return { s, finished, woken };
}

const running = (name: string, node: string): Checkpoint =>
  ({
    apiVersion: 'checkpoint.example.com/v1alpha1',
    kind: 'Checkpoint',
    metadata: { namespace: 'ns', name },
    spec: { target: { podName: 'p' }, storage: { backend: 'local', local: { path: '/var/lib/checkpoint-operator' } } },
    status: { phase: 'Running', nodeName: node },
  }) as unknown as Checkpoint;
const withPhase = (c: Checkpoint, phase: string): Checkpoint =>
  ({ ...c, status: { ...c.status, phase } }) as Checkpoint;

describe('checkpoint Job slots per node', () => {
  it('lets as many Checkpoints start on a node as the limit, then says how many hold it', () => {
    const { s } = slots(2);
    expect(s.fullFor('node-a', 'ns/a')).toBeUndefined();
    s.claim('node-a', 'ns/a');
    s.claim('node-a', 'ns/b');
    expect(s.fullFor('node-a', 'ns/c')).toBe(2);
    // Another node has its own slots; a holder asking again is not refused its own slot.
    expect(s.fullFor('node-b', 'ns/c')).toBeUndefined();
    expect(s.fullFor('node-a', 'ns/a')).toBeUndefined();
  });

  it('wakes waiters oldest first, as many as slots came free', () => {
    const { s, woken } = slots(2);
    s.claim('node-a', 'ns/a');
    s.claim('node-a', 'ns/b');
    for (const w of ['ns/c', 'ns/d', 'ns/e']) s.wait('node-a', w);
    s.release('ns/a');
    expect(woken).toEqual(['ns/c']);
    s.claim('node-a', 'ns/c');
    s.release('ns/b');
    s.release('ns/c');
    expect(woken).toEqual(['ns/c', 'ns/d', 'ns/e']);
  });

  it('follows the cache: a Running Checkpoint holds a slot on its node, a finished or deleted one frees it', () => {
    const { s, woken } = slots(1);
    const a = running('a', 'node-a');
    s.observe(a, false);
    expect(s.fullFor('node-a', 'ns/b')).toBe(1);
    s.wait('node-a', 'ns/b');
    s.observe(withPhase(a, 'Succeeded'), false);
    expect(woken).toEqual(['ns/b']);
    expect(s.fullFor('node-a', 'ns/b')).toBeUndefined();
    const c = running('c', 'node-a');
    s.observe(c, false);
    s.observe(c, true);
    expect(s.fullFor('node-a', 'ns/d')).toBeUndefined();
  });

  it('keeps a claim made before the Running status arrives, while the Checkpoint is Pending', () => {
    const { s } = slots(1);
    s.claim('node-a', 'ns/a');
    s.observe(withPhase(running('a', 'node-a'), 'Pending'), false);
    expect(s.fullFor('node-a', 'ns/b')).toBe(1);
  });

  it('lets go of a holder that finished while the cache had not said so yet', () => {
    const { s, finished } = slots(1);
    s.claim('node-a', 'ns/a');
    finished.add('ns/a');
    expect(s.fullFor('node-a', 'ns/b')).toBeUndefined();
  });

  it('has no limit at 0', () => {
    const { s } = slots(0);
    for (let i = 0; i < 100; i++) s.claim('node-a', `ns/${i}`);
    expect(s.fullFor('node-a', 'ns/new')).toBeUndefined();
  });

  it('a waiter that is deleted is not woken for a slot it cannot use', () => {
    const { s, woken } = slots(1);
    s.claim('node-a', 'ns/a');
    s.wait('node-a', 'ns/b');
    s.wait('node-a', 'ns/c');
    s.observe(withPhase(running('b', 'node-a'), 'Pending'), true);
    s.release('ns/a');
    expect(woken).toEqual(['ns/c']);
  });
});

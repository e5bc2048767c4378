import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/api/checkpoint.js';
import { BusyContainers, containerKey } from '../../src/dispatcher/checkpoints/busy-containers.js';

function checkpoint(name: string, status?: Checkpoint['status']): Checkpoint {
  return {
    apiVersion: 'checkpoint.example.com/v1alpha1',
    kind: 'Checkpoint',
    metadata: { name, namespace: 'ns', uid: `uid-${name}` },
    spec: { target: { podName: 'web-0' } },
    ...(status ? { status } : {}),
  };
}
const APP = containerKey('ns', 'web-0', 'app');

/** A BusyContainers whose view of which Checkpoints are still working is `active`. */
function busyContainers(active = new Set<string>()) {
  const woken: string[] = [];
  const busy = new BusyContainers(
    (key) => active.has(key),
    (key) => woken.push(key),
  );
  return { busy, woken, active };
}

describe('BusyContainers', () => {
  it('lets one Checkpoint hold a container and tells the others who holds it', () => {
    const { busy } = busyContainers(new Set(['ns/a']));
    busy.claim(APP, 'ns/a');
    expect(busy.heldByOther(APP, 'ns/a')).toBeUndefined();
    expect(busy.heldByOther(APP, 'ns/b')).toBe('ns/a');
    expect(busy.heldByOther(containerKey('ns', 'web-0', 'side'), 'ns/b')).toBeUndefined();
  });

  it('wakes the waiters once the holder finishes', () => {
    const { busy, woken } = busyContainers(new Set(['ns/a']));
    busy.claim(APP, 'ns/a');
    busy.wait(APP, 'ns/b');
    busy.wait(APP, 'ns/c');
    busy.observe(checkpoint('a', { phase: 'Running', containerName: 'app' }), false);
    expect(woken).toEqual([]);
    busy.observe(checkpoint('a', { phase: 'Succeeded', containerName: 'app' }), false);
    expect(woken).toEqual(['ns/b', 'ns/c']);
    expect(busy.heldByOther(APP, 'ns/b')).toBeUndefined();
  });

  it('learns holders from Running Checkpoints in the cache (a new leader)', () => {
    const { busy, woken } = busyContainers(new Set(['ns/a']));
    busy.observe(checkpoint('a', { phase: 'Running', containerName: 'app' }), false);
    expect(busy.heldByOther(APP, 'ns/b')).toBe('ns/a');
    busy.wait(APP, 'ns/b');
    busy.observe(checkpoint('a', { phase: 'Running', containerName: 'app' }), true);
    expect(woken).toEqual(['ns/b']);
  });

  it('keeps a claim made before the Running status arrives, and drops it when the Checkpoint fails', () => {
    const { busy } = busyContainers(new Set(['ns/a']));
    busy.claim(APP, 'ns/a');
    busy.observe(checkpoint('a'), false);
    expect(busy.heldByOther(APP, 'ns/b')).toBe('ns/a');
    busy.observe(checkpoint('a', { phase: 'Failed', reason: 'JobFailed' }), false);
    expect(busy.heldByOther(APP, 'ns/b')).toBeUndefined();
  });

  it('releases a claim left by a reconcile that worked from a stale view of a finished Checkpoint', () => {
    const { busy, woken, active } = busyContainers(new Set(['ns/a']));
    busy.observe(checkpoint('a', { phase: 'Failed', reason: 'CredentialsNotFound' }), false);
    busy.claim(APP, 'ns/a'); // the stale reconcile, after the Failed status was seen
    busy.wait(APP, 'ns/c');
    active.delete('ns/a');
    expect(busy.heldByOther(APP, 'ns/b')).toBeUndefined();
    expect(woken).toEqual(['ns/c']);
  });
});

import { describe, expect, it } from 'vitest';
import { chooseContainer, resolveTarget } from '../../src/api/resolve-target.js';

describe('target defaults', () => {
  it("defaults the namespace to the Checkpoint's", () => {
    expect(resolveTarget('team-a', { podName: 'web-0' })).toEqual({
      namespace: 'team-a',
      podName: 'web-0',
      containerName: undefined,
    });
  });

  it('keeps an explicit namespace and container', () => {
    expect(resolveTarget('team-a', { podName: 'web-0', namespace: 'default', containerName: 'main' })).toEqual({
      namespace: 'default',
      podName: 'web-0',
      containerName: 'main',
    });
  });

  it("defaults the container to the pod's first", () => {
    expect(chooseContainer(undefined, [{ name: 'app' }, { name: 'sidecar' }], 'web-0')).toEqual({
      ok: true,
      containerName: 'app',
    });
  });

  it('accepts a named container the pod has', () => {
    expect(chooseContainer('sidecar', [{ name: 'app' }, { name: 'sidecar' }], 'web-0')).toEqual({
      ok: true,
      containerName: 'sidecar',
    });
  });

  it('names the containers the pod has when the requested one is missing', () => {
    expect(chooseContainer('main', [{ name: 'app' }, { name: 'sidecar' }], 'web-0')).toEqual({
      ok: false,
      reason: 'ContainerNotFound',
      message: 'pod web-0 has no container main (it has: app, sidecar)',
    });
  });

  it('fails on a pod without containers', () => {
    expect(chooseContainer(undefined, [], 'web-0')).toMatchObject({ ok: false, reason: 'ContainerNotFound' });
  });
});

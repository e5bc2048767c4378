import { describe, expect, it } from 'vitest';
import type { CoreV1Api } from '@kubernetes/client-node';
import { resolveJobImage } from '../../src/dispatcher/job-image.js';

/** client-node's ApiException, as the API server's answers arrive. */
function apiError(code: number, message: string): Error {
  return Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: JSON.stringify({ message }), headers: {} });
}

const managerPod = {
  spec: {
    containers: [
      { name: 'sidecar', image: 'other:1' },
      { name: 'manager', image: 'registry.local/checkpoint-operator@sha256:abc' },
    ],
  },
};

/** Answers in turn; time moves only as the lookup sleeps. */
function fakeServer(answers: (Error | object)[]) {
  let t = 0;
  const asked: number[] = [];
  const core = {
    readNamespacedPod: async () => {
      asked.push(t);
      const next = answers.length > 1 ? answers.shift()! : answers[0]!;
      if (next instanceof Error) throw next;
      return next;
    },
  } as unknown as CoreV1Api;
  return {
    core,
    asked,
    options: {
      now: () => t,
      sleep: async (ms: number) => {
        t += ms;
      },
    },
  };
}

describe('the image for Jobs', () => {
  it('is JOB_IMAGE when set, without asking the API server', async () => {
    const { core, asked, options } = fakeServer([apiError(500, 'no')]);
    expect(await resolveJobImage(core, 'mine:1', 'p', 'ns', options)).toBe('mine:1');
    expect(asked).toEqual([]);
  });

  it("is the manager container's image of our own pod", async () => {
    const { core, options } = fakeServer([managerPod]);
    expect(await resolveJobImage(core, undefined, 'p', 'ns', options)).toBe(
      'registry.local/checkpoint-operator@sha256:abc',
    );
  });

  it('is asked for again while a restarted API server denies requests before its RBAC rules load, or cannot serve', async () => {
    const forbidden = apiError(
      403,
      'pods "p" is forbidden: User "system:serviceaccount:x:y" cannot get resource "pods"',
    );
    // As client-node's fetch reports a refused connection.
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 10.96.0.1:443'), { code: 'ECONNREFUSED' }),
    });
    const { core, asked, options } = fakeServer([refused, apiError(503, 'starting'), forbidden, forbidden, managerPod]);
    const retries: number[] = [];
    const image = await resolveJobImage(core, undefined, 'p', 'ns', {
      ...options,
      onRetry: (_err, ms) => retries.push(ms),
    });
    expect(image).toBe('registry.local/checkpoint-operator@sha256:abc');
    expect(retries).toEqual([500, 1000, 2000, 4000]);
    expect(asked).toEqual([0, 500, 1500, 3500, 7500]);
  });

  it('fails at once, naming the pod, when the pod does not exist', async () => {
    const { core, asked, options } = fakeServer([apiError(404, 'pods "not-a-pod" not found')]);
    await expect(resolveJobImage(core, undefined, 'not-a-pod', 'ops', options)).rejects.toThrow(
      'JOB_IMAGE is not set and pod ops/not-a-pod could not be read',
    );
    expect(asked).toHaveLength(1);
  });

  it('gives up with the last error once its patience is spent, when access stays denied', async () => {
    const { core, asked, options } = fakeServer([apiError(403, 'forbidden')]);
    await expect(resolveJobImage(core, undefined, 'p', 'ns', { ...options, patienceMs: 20_000 })).rejects.toThrow(
      /could not be read.*403/s,
    );
    // 0, 0.5, 1.5, 3.5, 7.5, 12.5, 17.5 s: the next wait would pass the 20 s.
    expect(asked).toHaveLength(7);
  });

  it('fails when our pod names no image', async () => {
    const { core, options } = fakeServer([{ spec: { containers: [] } }]);
    await expect(resolveJobImage(core, undefined, 'p', 'ns', options)).rejects.toThrow('names no image');
  });
});

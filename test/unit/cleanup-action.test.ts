import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { cleanupJobInputSchema, type CleanupJobInput } from '../../src/actions/cleanup/job-input.js';
import { runCleanup } from '../../src/actions/cleanup/run.js';
import { EventRecorder } from '../../src/kube/events.js';
import { KubeHttpError, type LeanKubeClient } from '../../src/kube/lean-client.js';
import { createLogger } from '../../src/observability/logger.js';
import { type ArchiveBackend, BackendError } from '../../src/storage/backend.js';
import { FilesystemBackend } from '../../src/storage/filesystem.js';

const log = createLogger('test', 'silent');
const checkpoint = { namespace: 'team-a', name: 'c1', uid: 'uid-1' };
const recorded = 'team-a/c1/uid-1/checkpoint-web-0_team-a-app-20261125T030000Z.tar';
const unrecorded = 'team-a/c1/uid-1/checkpoint-web-0_team-a-app-20261125T040000Z.tar';
const neighbour = 'team-a/c1/uid-10/checkpoint-web-0_team-a-app-20261125T030000Z.tar';
const STATUS_PATH = '/apis/checkpoint.example.com/v1alpha1/namespaces/team-a/checkpoints/c1/status';

/** The few API calls a cleanup makes: read the Checkpoint, patch its status, post Events. */
function fakeApi(object: { uid: string; deleting: boolean } | undefined) {
  const patches: { path: string; body: unknown }[] = [];
  const events: { message?: string }[] = [];
  const api = {
    async get(path: string) {
      expect(path).toBe('/apis/checkpoint.example.com/v1alpha1/namespaces/team-a/checkpoints/c1');
      if (!object) throw new KubeHttpError(404, '{"message":"not found"}', 'GET', path);
      return {
        apiVersion: 'checkpoint.example.com/v1alpha1',
        kind: 'Checkpoint',
        metadata: {
          namespace: 'team-a',
          name: 'c1',
          uid: object.uid,
          ...(object.deleting ? { deletionTimestamp: '2026-11-25T05:00:00Z' } : {}),
        },
        spec: {},
      };
    },
    async mergePatch(path: string, body: unknown) {
      patches.push({ path, body });
      return {};
    },
    async post(_path: string, body: unknown) {
      events.push(body as { message?: string });
      return {};
    },
  } as unknown as LeanKubeClient;
  return { api, patches, events };
}

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'cleanup-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function run(
  input: Partial<CleanupJobInput>,
  backend: ArchiveBackend,
  object: { uid: string; deleting: boolean } | undefined = { uid: 'uid-1', deleting: true },
) {
  const { api, patches, events } = fakeApi(object);
  const recorder = new EventRecorder(api, 'test', log);
  const result = await runCleanup({
    input: cleanupJobInputSchema.parse({ checkpoint, storage: { backend: 'pvc', claimName: 'claim' }, ...input }),
    backend,
    lean: api,
    events: recorder,
    clock: new ManualClock(0),
    log,
  });
  await recorder.flush();
  return { result, patches, events };
}

/** Lists one archive, fails to delete it. */
function failingBackend(err: Error): ArchiveBackend {
  return {
    put: () => Promise.reject(new Error('unused')),
    get: () => Promise.reject(new Error('unused')),
    stat: () => Promise.reject(new Error('unused')),
    delete: () => Promise.reject(err),
    async *list() {
      yield { key: recorded, sizeBytes: 1, lastModified: new Date(0) };
    },
    uri: (k) => `s3://b/${k}`,
  };
}

async function store(backend: FilesystemBackend, ...keys: string[]) {
  for (const k of keys) await backend.put(k, Readable.from([Buffer.from('memory')]));
}

describe('runCleanup', () => {
  it('deletes the recorded archive and every other one under the Checkpoint, never a neighbour', async () => {
    const backend = new FilesystemBackend(root, 'pvc://claim');
    await store(backend, recorded, unrecorded, neighbour);
    const { result, patches, events } = await run({ key: recorded }, backend);
    expect(result.ok).toBe(true);
    expect(result.ok && [...result.deleted].sort()).toEqual([recorded, unrecorded]);
    expect(await backend.stat(neighbour)).toEqual({ sizeBytes: 6 });
    expect(await readdir(join(root, 'team-a/c1'))).toEqual(['uid-10']);
    expect(patches).toEqual([]);
    expect(events).toMatchObject([
      { type: 'Normal', reason: 'ArchiveDeleted', involvedObject: { kind: 'Checkpoint', name: 'c1', uid: 'uid-1' } },
    ]);
  });

  it('succeeds when everything is already gone, and without a recorded key', async () => {
    const backend = new FilesystemBackend(root, 'pvc://claim');
    expect((await run({ key: recorded }, backend)).result).toEqual({ ok: true, deleted: [recorded] });
    expect((await run({}, backend)).result).toEqual({ ok: true, deleted: [] });
  });

  it('removes the temporary file an interrupted write left behind', async () => {
    const backend = new FilesystemBackend(root, 'pvc://claim');
    await store(backend, recorded);
    const partial = join(root, 'team-a/c1/uid-1/.checkpoint-x.tar.partial-0a1b2c3d');
    await writeFile(partial, 'half an archive');
    const { result, events } = await run({}, backend);
    expect(result).toEqual({ ok: true, deleted: [recorded] });
    expect(await readdir(root)).toEqual([]);
    expect(events[0]?.message).toContain('1 incomplete write');
  });

  it('still deletes the archives of a Checkpoint that is already gone, reporting to no status', async () => {
    const backend = new FilesystemBackend(root, 'pvc://claim');
    await store(backend, recorded);
    const { result, patches } = await run({ key: recorded }, backend, undefined);
    expect(result).toEqual({ ok: true, deleted: [recorded] });
    expect(patches).toEqual([]);
  });

  it.each([
    ["another Checkpoint's archive", neighbour],
    ['a key that climbs out', 'team-a/c1/uid-1/../../c2/uid-2/x.tar'],
    ['the prefix of a longer uid', 'team-a/c1/uid-10/x.tar'],
  ])('refuses %s as the recorded key, deleting nothing', async (_what, key) => {
    const backend = new FilesystemBackend(root, 'pvc://claim');
    await store(backend, recorded, neighbour);
    const { result, patches, events } = await run({ key }, backend);
    expect(result).toMatchObject({ ok: false, reason: 'InvalidKey' });
    expect(await backend.stat(recorded)).toBeDefined();
    expect(await backend.stat(neighbour)).toBeDefined();
    expect(patches).toMatchObject([
      { path: STATUS_PATH, body: { status: { phase: 'Deleting', reason: 'InvalidKey' } } },
    ]);
    expect(events).toMatchObject([{ type: 'Warning', reason: 'InvalidKey' }]);
  });

  it('records a storage failure in the status and an Event, and reports it', async () => {
    const down = failingBackend(new BackendError('StorageUnreachable', 'cannot reach S3 for s3://b/x: ECONNREFUSED'));
    const { result, patches, events } = await run({ key: recorded }, down);
    expect(result).toMatchObject({ ok: false, reason: 'StorageUnreachable' });
    const message = !result.ok ? result.message : '';
    expect(message).toMatch(/ECONNREFUSED.*retries with backoff/);
    expect(patches).toEqual([
      { path: STATUS_PATH, body: { status: { phase: 'Deleting', reason: 'StorageUnreachable', message } } },
    ]);
    expect(events).toMatchObject([{ type: 'Warning', reason: 'StorageUnreachable', message }]);
  });

  it('calls any other failure CleanupFailed, including failing to open the backend', async () => {
    const { result } = await run({}, (() => Promise.reject(new Error('EACCES: permission denied'))) as never);
    expect(result).toMatchObject({ ok: false, reason: 'CleanupFailed' });
    const opened = await run({}, (() =>
      Promise.reject(new BackendError('CredentialsUnreadable', 'no Secret'))) as never);
    expect(opened.result).toMatchObject({ ok: false, reason: 'CredentialsUnreadable' });
  });

  it('keeps the archive of a Checkpoint that is not being deleted', async () => {
    const backend = new FilesystemBackend(root, 'pvc://claim');
    await store(backend, recorded);
    const { result, patches } = await run({ key: recorded }, backend, { uid: 'uid-1', deleting: false });
    expect(result).toMatchObject({ ok: false, reason: 'CheckpointNotDeleted' });
    expect(await backend.stat(recorded)).toBeDefined();
    expect(patches).toEqual([]);
  });

  it('leaves a re-created Checkpoint of the same name alone', async () => {
    const { result, patches } = await run({ key: recorded }, failingBackend(new Error('disk on fire')), {
      uid: 'uid-2',
      deleting: false,
    });
    expect(result).toMatchObject({ ok: false, reason: 'CleanupFailed' });
    expect(patches).toEqual([]);
  });
});

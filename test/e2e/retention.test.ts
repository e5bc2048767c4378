import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/api/checkpoint.js';
import type { CheckpointPolicy } from '../../src/api/checkpoint-policy.js';
import { type S3Server, startMinio } from '../cluster/minio.js';
import { clusterContext, clusterServerHost } from './support/cluster-context.js';
import { eventsFor, getCheckpoint, runWorkload, waitForPhase, waitForTerminal } from './support/checkpoints.js';
import { kubectl } from './support/kube.js';
import { adminS3, createBucket, objectKeys } from './support/s3.js';
import { TcpGate } from './support/tcp-gate.js';
import { claimDirectory, trustRegistryOnNodes } from './support/nodes.js';

const NS = 'retention-e2e';
const OPERATOR_NS = 'checkpoint-operator-system';
const LOCAL_ROOT = '/var/lib/checkpoint-operator/retention';
/** A schedule that never comes round during a test: those sweeps are started by hand, from the CronJob. */
const NEVER = '0 0 1 1 *';
const { s3, sparePodPorts, clusterDir, registryHost } = clusterContext();
let admin: S3Client;

const apply = (yaml: string) => kubectl(['apply', '-f', '-'], yaml);

function policyYaml(name: string, spec: string): string {
  return `apiVersion: checkpoint.example.com/v1alpha1\nkind: CheckpointPolicy\nmetadata:\n  name: ${name}\nspec:\n${spec}`;
}
const localStorage = (dir: string) => `  storage:\n    backend: local\n    local:\n      path: ${LOCAL_ROOT}/${dir}\n`;
const retention = (fields: string) =>
  `  retention:\n${fields
    .split('\n')
    .filter(Boolean)
    .map((l) => `    ${l}`)
    .join('\n')}\n`;

function checkpointYaml(name: string, policy: string, container: string, pod = 'app'): string {
  return `apiVersion: checkpoint.example.com/v1alpha1\nkind: Checkpoint\nmetadata:\n  name: ${name}\n  namespace: ${NS}\nspec:\n  target:\n    podName: ${pod}\n    containerName: ${container}\n  policyRef: ${policy}\n`;
}

async function getPolicy(name: string): Promise<CheckpointPolicy> {
  return JSON.parse(await kubectl(['get', 'checkpointpolicies.checkpoint.example.com', name, '-o', 'json']));
}

async function checkpointNames(prefix: string): Promise<string[]> {
  const list = JSON.parse(await kubectl(['get', 'checkpoints.checkpoint.example.com', '-n', NS, '-o', 'json']));
  return list.items
    .map((c: Checkpoint) => c.metadata.name)
    .filter((n: string) => n.startsWith(prefix))
    .sort();
}

/** Creates Checkpoints one after another (one container is checkpointed by one Job at a time anyway). */
async function checkpointsOf(policy: string, container: string, names: string[], pod = 'app'): Promise<Checkpoint[]> {
  await apply(names.map((n) => checkpointYaml(n, policy, container, pod)).join('---\n'));
  const done = await Promise.all(names.map((n) => waitForTerminal(NS, n, 120_000))).catch(async (err: Error) => {
    throw new Error(`${err.message}\n${await explain(names[0]!.replace(/-\d+$/, ''), policy)}`);
  });
  for (const c of done) expect(c.status?.phase, c.status?.message).toBe('Succeeded');
  return done;
}

const newest = (cs: Checkpoint[], n: number) =>
  [...cs]
    .sort(
      (a, b) =>
        Date.parse(a.status!.archive!.createdAt) - Date.parse(b.status!.archive!.createdAt) ||
        a.metadata.name.localeCompare(b.metadata.name),
    )
    .slice(-n)
    .map((c) => c.metadata.name)
    .sort();

/** Files under a directory, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** The archive keys a backend holds for the local and pvc backends, read from the disks. */
async function localKeys(node: string, dir: string): Promise<string[]> {
  return filesUnder(join(clusterDir, 'nodes', node, LOCAL_ROOT, dir));
}
async function claimKeys(claim: string): Promise<string[]> {
  return filesUnder(await claimDirectory(OPERATOR_NS, claim));
}

/** Starts one sweep of a policy now, from its CronJob's template, and waits for it to finish. */
async function sweepNow(policy: string, run: string): Promise<void> {
  const cronJob = (await getPolicy(policy)).status?.cronJobName;
  expect(cronJob).toBeTruthy();
  await kubectl(['create', 'job', run, `--from=cronjob/${cronJob}`, '-n', OPERATOR_NS]);
  await kubectl(['wait', '--for=condition=complete', `job/${run}`, '-n', OPERATOR_NS, '--timeout=90s']);
}

/** What the cluster says about a policy's Checkpoints and sweeps, for a failure message. */
async function explain(prefix: string, policy: string): Promise<string> {
  const list = JSON.parse(await kubectl(['get', 'checkpoints.checkpoint.example.com', '-n', NS, '-o', 'json']));
  const lines = list.items
    .filter((c: Checkpoint) => c.metadata.name.startsWith(prefix))
    .map(
      (c: Checkpoint) =>
        `${c.metadata.name} rv=${c.metadata.resourceVersion} deleting=${Boolean(c.metadata.deletionTimestamp)} finalizers=${c.metadata.finalizers} ${JSON.stringify({ ...c.status, conditions: undefined })}`,
    );
  const jobs = await kubectl(['get', 'jobs,pods', '-n', OPERATOR_NS, '-o', 'wide']);
  const waiting = await kubectl([
    'get',
    'pods',
    '-n',
    OPERATOR_NS,
    '-o',
    'jsonpath={range .items[*]}{.metadata.name} {.status.containerStatuses[*].state.waiting.message}{"\\n"}{end}',
  ]);
  const events = await kubectl(['get', 'events', '-A', '--sort-by=.lastTimestamp']).catch(() => '');
  return [
    ...lines,
    JSON.stringify((await getPolicy(policy)).status),
    jobs,
    waiting,
    events
      .split('\n')
      .filter((l) => l.includes(prefix))
      .join('\n'),
  ].join('\n');
}

async function gone(name: string, timeoutMs = 120_000): Promise<void> {
  await expect
    .poll(async () => (await getCheckpoint(NS, name).catch(() => undefined)) === undefined, {
      timeout: timeoutMs,
      interval: 500,
    })
    .toBe(true);
}

beforeAll(async () => {
  admin = adminS3(s3);
  await createBucket(admin, 'retention');
  await kubectl(['create', 'namespace', NS]).catch(() => undefined);
  await kubectl([
    'create',
    'secret',
    'generic',
    'retention-s3',
    '-n',
    NS,
    `--from-literal=AWS_ACCESS_KEY_ID=${s3.accessKeyId}`,
    `--from-literal=AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey}`,
  ]).catch(() => undefined);
  await runWorkload(NS, 'app', { containers: ['local', 'pvc', 's3', 'age', 'keep', 'outage'] });
});

afterAll(() => admin?.destroy());

describe('retention', () => {
  it('gives each policy with limits a sweep CronJob, and removes it with the limits', async () => {
    await apply(policyYaml('ret-cron', `${localStorage('cron')}${retention(`maxCount: 3\nschedule: "*/5 * * * *"`)}`));
    await expect
      .poll(async () => (await getPolicy('ret-cron')).status?.cronJobName, { timeout: 30_000 })
      .toBe('sweep-ret-cron');
    const policy = await getPolicy('ret-cron');
    const cron = JSON.parse(await kubectl(['get', 'cronjob', 'sweep-ret-cron', '-n', OPERATOR_NS, '-o', 'json']));
    expect(cron.spec).toMatchObject({
      schedule: '*/5 * * * *',
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
    });
    expect(cron.spec.jobTemplate.spec.template.spec.serviceAccountName).toBe('checkpoint-operator-sweep');
    expect(cron.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'CheckpointPolicy', name: 'ret-cron', uid: policy.metadata.uid }),
    ]);
    const next = Date.parse(policy.status!.nextSweepTime!);
    expect(next).toBeGreaterThan(Date.now() - 5_000);
    expect(new Date(next).getUTCMinutes() % 5).toBe(0);
    expect(policy.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      reason: 'SweepScheduled',
    });

    // A new schedule reaches the CronJob; no limits, no CronJob.
    await apply(policyYaml('ret-cron', `${localStorage('cron')}${retention(`maxCount: 3\nschedule: "0 3 * * *"`)}`));
    await expect
      .poll(
        async () =>
          JSON.parse(await kubectl(['get', 'cronjob', 'sweep-ret-cron', '-n', OPERATOR_NS, '-o', 'json'])).spec
            .schedule,
        { timeout: 30_000 },
      )
      .toBe('0 3 * * *');
    await apply(policyYaml('ret-cron', localStorage('cron')));
    await expect
      .poll(
        async () => (await kubectl(['get', 'cronjobs', '-n', OPERATOR_NS, '-o', 'name'])).includes('sweep-ret-cron'),
        { timeout: 30_000 },
      )
      .toBe(false);
    expect((await getPolicy('ret-cron')).status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      reason: 'NoRetention',
    });
    // Limits again, then the policy goes: the garbage collector takes its CronJob with it.
    await apply(policyYaml('ret-cron', `${localStorage('cron')}${retention('maxAge: 1h')}`));
    await expect
      .poll(
        async () => (await kubectl(['get', 'cronjobs', '-n', OPERATOR_NS, '-o', 'name'])).includes('sweep-ret-cron'),
        { timeout: 30_000 },
      )
      .toBe(true);
    await kubectl(['delete', 'checkpointpolicies.checkpoint.example.com', 'ret-cron', '--wait=true']);
    await expect
      .poll(
        async () => (await kubectl(['get', 'cronjobs', '-n', OPERATOR_NS, '-o', 'name'])).includes('sweep-ret-cron'),
        { timeout: 60_000 },
      )
      .toBe(false);
  });

  it('keeps the newest maxCount Checkpoints and exactly their archives on every backend, on the CronJob schedule; reports orphans', async () => {
    // Sweeps wait until every Checkpoint is made, then run on the CronJob's own schedule.
    const every = `maxCount: 2\nschedule: "${NEVER}"`;
    await apply(
      [
        policyYaml('ret-local', `${localStorage('count')}${retention(every)}`),
        policyYaml(
          'ret-pvc',
          `  storage:\n    backend: pvc\n    pvcTemplate:\n      accessModes: [ReadWriteOnce]\n      resources:\n        requests:\n          storage: 1Gi\n${retention(every)}`,
        ),
        policyYaml(
          'ret-s3',
          `  storage:\n    backend: s3\n    s3:\n      endpoint: ${s3.endpoint}\n      bucket: retention\n      prefix: r/\n      credentialsSecretRef:\n        name: retention-s3\n        namespace: ${NS}\n${retention(every)}`,
        ),
      ].join('---\n'),
    );
    // An archive no Checkpoint owns, and a file that is not an archive at all (never touched).
    const orphan = 'r/gone-ns/gone/00000000-0000-0000-0000-000000000000/checkpoint-x_gone-ns-main-20260101T000000Z.tar';
    await admin.send(new PutObjectCommand({ Bucket: 'retention', Key: orphan, Body: 'old bytes' }));
    await admin.send(new PutObjectCommand({ Bucket: 'retention', Key: 'r/README', Body: 'not an archive' }));

    const names = (b: string) => [1, 2, 3, 4, 5].map((i) => `${b}-${i}`);
    const [local, pvc, inS3] = await Promise.all([
      checkpointsOf('ret-local', 'local', names('count-local')),
      checkpointsOf('ret-pvc', 'pvc', names('count-pvc')),
      checkpointsOf('ret-s3', 's3', names('count-s3')),
    ]);
    // The real CronJob controller starts the sweeps (every minute); the finalizers then clean up.
    for (const p of ['ret-local', 'ret-pvc', 'ret-s3']) {
      await kubectl([
        'patch',
        'checkpointpolicies.checkpoint.example.com',
        p,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { retention: { schedule: '* * * * *' } } }),
      ]);
    }
    for (const [prefix, cs] of [
      ['count-local', local],
      ['count-pvc', pvc],
      ['count-s3', inS3],
    ] as const) {
      try {
        await expect.poll(() => checkpointNames(prefix), { timeout: 150_000, interval: 1000 }).toEqual(newest(cs, 2));
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${await explain(prefix, `ret-${prefix.slice('count-'.length)}`)}`, {
          cause: err,
        });
      }
    }
    const kept = (cs: Checkpoint[]) =>
      cs
        .filter((c) => newest(cs, 2).includes(c.metadata.name))
        .map((c) => c.status!.archive!.key!)
        .sort();
    const node = local[0]!.status!.nodeName!;
    await expect.poll(() => localKeys(node, 'count'), { timeout: 60_000 }).toEqual(kept(local));
    await expect.poll(() => claimKeys('checkpoint-archives-ret-pvc'), { timeout: 60_000 }).toEqual(kept(pvc));
    await expect
      .poll(() => objectKeys(admin, 'retention', 'r/'), { timeout: 60_000 })
      .toEqual([orphan, 'r/README', ...kept(inS3).map((k) => `r/${k}`)].sort());

    const jobs = JSON.parse(
      await kubectl(['get', 'jobs', '-n', OPERATOR_NS, '-l', 'checkpoint.example.com/policy=ret-local', '-o', 'json']),
    );
    expect(jobs.items.length).toBeGreaterThan(0);
    expect(jobs.items[0].metadata.ownerReferences[0]).toMatchObject({ kind: 'CronJob', name: 'sweep-ret-local' });
    const swept = await getPolicy('ret-s3');
    expect(swept.status).toMatchObject({ checkpointsKept: 2, orphanArchives: 1 });
    expect(Date.parse(swept.status!.lastSweepTime!)).toBeGreaterThan(
      Date.parse(inS3[0]!.metadata.creationTimestamp as unknown as string),
    );
    expect(swept.status?.conditions?.find((c) => c.type === 'SweepSucceeded')).toMatchObject({ status: 'True' });
    const policyEvents = JSON.parse(
      await kubectl(['get', 'events', '-n', 'default', '--field-selector', 'involvedObject.name=ret-s3', '-o', 'json']),
    );
    expect(policyEvents.items.find((e: { reason: string }) => e.reason === 'OrphanArchives')?.message).toContain(
      orphan.slice(2),
    );
    const expiredName = local.map((c) => c.metadata.name).find((n) => !newest(local, 2).includes(n))!;
    const expired = (await eventsFor(NS, expiredName)).find((e) => e.reason === 'Expired');
    expect(expired?.message).toMatch(/maxCount/);

    // Told to, the sweep deletes the orphan, and still never the file that is not an archive.
    await kubectl([
      'patch',
      'checkpointpolicies.checkpoint.example.com',
      'ret-s3',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { retention: { deleteOrphans: true, schedule: NEVER } } }),
    ]);
    await sweepNow('ret-s3', 'sweep-ret-s3-orphans');
    expect(await objectKeys(admin, 'retention', 'r/')).toEqual(['r/README', ...kept(inS3).map((k) => `r/${k}`)].sort());
    await admin.send(new DeleteObjectCommand({ Bucket: 'retention', Key: 'r/README' }));
    for (const p of ['ret-local', 'ret-pvc']) {
      await kubectl([
        'patch',
        'checkpointpolicies.checkpoint.example.com',
        p,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { retention: { schedule: NEVER } } }),
      ]);
    }
  }, 400_000);

  it('deletes Checkpoints older than maxAge, and their archives', async () => {
    await apply(policyYaml('ret-age', `${localStorage('age')}${retention(`maxAge: 20s\nschedule: "${NEVER}"`)}`));
    const [old] = await checkpointsOf('ret-age', 'age', ['age-old']);
    // Old enough once 20 s have passed since its archive was made.
    await new Promise((r) =>
      setTimeout(r, Math.max(0, Date.parse(old!.status!.archive!.createdAt) + 21_000 - Date.now())),
    );
    const [young] = await checkpointsOf('ret-age', 'age', ['age-young']);
    await expect.poll(async () => (await getPolicy('ret-age')).status?.cronJobName, { timeout: 30_000 }).toBeTruthy();
    await sweepNow('ret-age', 'sweep-ret-age-1');
    await gone('age-old');
    expect(await checkpointNames('age-')).toEqual(['age-young']);
    await expect
      .poll(() => localKeys(old!.status!.nodeName!, 'age'), { timeout: 60_000 })
      .toEqual([young!.status!.archive!.key]);
    expect((await eventsFor(NS, 'age-old')).find((e) => e.reason === 'Expired')?.message).toMatch(/maxAge/);
  });

  it('keeps the archive of a deleted Checkpoint when the policy retains archives', async () => {
    await apply(policyYaml('ret-keep', `${localStorage('keep')}${retention('reclaimPolicy: Retain')}`));
    const [c] = await checkpointsOf('ret-keep', 'keep', ['keep-1']);
    await kubectl(['delete', 'checkpoints.checkpoint.example.com', 'keep-1', '-n', NS, '--wait=true', '--timeout=60s']);
    expect(await localKeys(c!.status!.nodeName!, 'keep')).toEqual([c!.status!.archive!.key]);
    expect((await eventsFor(NS, 'keep-1')).find((e) => e.reason === 'ArchiveRetained')?.message).toContain(
      c!.status!.archive!.uri,
    );
  });

  it('refuses a policy that would both retain archives and delete orphans', async () => {
    await expect(
      apply(policyYaml('ret-contradiction', retention('reclaimPolicy: Retain\ndeleteOrphans: true'))),
    ).rejects.toThrow(/deleteOrphans would delete the archives reclaimPolicy: Retain keeps/);
  });

  it('a Checkpoint whose storage is down waits visibly in Deleting, and goes once the storage is back', async () => {
    const port = sparePodPorts[3]!;
    const dir = join(clusterDir, 'minio-retention');
    let server: S3Server = await startMinio({ dir, host: clusterServerHost(), port, name: 'minio-retention' });
    const client = adminS3(server);
    try {
      await createBucket(client, 'down');
      await kubectl([
        'create',
        'secret',
        'generic',
        'down-s3',
        '-n',
        NS,
        `--from-literal=AWS_ACCESS_KEY_ID=${server.accessKeyId}`,
        `--from-literal=AWS_SECRET_ACCESS_KEY=${server.secretAccessKey}`,
      ]);
      await apply(
        `apiVersion: checkpoint.example.com/v1alpha1\nkind: Checkpoint\nmetadata:\n  name: outage-1\n  namespace: ${NS}\nspec:\n  target:\n    podName: app\n    containerName: outage\n  storage:\n    backend: s3\n    s3:\n      endpoint: ${server.endpoint}\n      bucket: down\n      credentialsSecretRef:\n        name: down-s3\n`,
      );
      const c = await waitForTerminal(NS, 'outage-1');
      expect(c.status?.phase, c.status?.message).toBe('Succeeded');
      expect(await objectKeys(client, 'down')).toEqual([c.status!.archive!.key]);

      await server.process.stop(0);
      await kubectl(['delete', 'checkpoints.checkpoint.example.com', 'outage-1', '-n', NS, '--wait=false']);
      const waiting = await waitForPhase(NS, 'outage-1', 'Deleting', 90_000);
      await expect
        .poll(async () => (await getCheckpoint(NS, 'outage-1')).status?.reason, { timeout: 90_000 })
        .toBe('StorageUnreachable');
      expect(waiting.metadata.finalizers).toContain('checkpoint.example.com/archive-cleanup');
      expect((await getCheckpoint(NS, 'outage-1')).status?.message).toContain('retries with backoff');
      expect(
        (await eventsFor(NS, 'outage-1')).some((e) => e.type === 'Warning' && e.reason === 'StorageUnreachable'),
      ).toBe(true);

      server = await startMinio({
        dir,
        host: clusterServerHost(),
        port,
        name: 'minio-retention',
        credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
      });
      // The cleanup Job's next attempt (the Job controller's backoff) finds the storage back.
      await gone('outage-1', 150_000);
      expect(await objectKeys(adminS3(server), 'down')).toEqual([]);
    } finally {
      client.destroy();
      await server.stop();
    }
  }, 300_000);

  it('never expires a Checkpoint that a restore in flight is reading', async () => {
    // The restore pushes to a registry behind a gate that holds its connections: the restore stays Running.
    const gate = await TcpGate.start(
      { host: registryHost.split(':')[0]!, port: Number(registryHost.split(':')[1]) },
      sparePodPorts[4]!,
      clusterServerHost(),
    );
    // The nodes pull the image from the gate too: plain HTTP, as for the registry behind it.
    const distrust = await trustRegistryOnNodes(`${clusterServerHost().ip}:${sparePodPorts[4]}`, { plainHttp: true });
    try {
      await apply(
        policyYaml(
          'ret-restore',
          `${localStorage('restore')}${retention(`maxCount: 1\nschedule: "${NEVER}"`)}  restore:\n    imageRepository: ${clusterServerHost().ip}:${sparePodPorts[4]}/checkpoints\n    insecureRegistry: true\n`,
        ),
      );
      await runWorkload(NS, 'restoree');
      const [first] = await checkpointsOf('ret-restore', 'main', ['restoring-1'], 'restoree');
      await kubectl(['annotate', 'pod', 'restoree', '-n', NS, 'checkpoint.example.com/restore-from=restoring-1']);
      const inFlight = async () =>
        ['Pending', 'Running'].includes(
          (await getCheckpoint(NS, 'restoring-1')).status?.restores?.at(-1)?.result ?? '',
        );
      await expect.poll(inFlight, { timeout: 30_000 }).toBe(true);
      await checkpointsOf('ret-restore', 'main', ['restoring-2'], 'restoree');
      await sweepNow('ret-restore', 'sweep-ret-restore-1');
      // Beyond maxCount, but being read: it stays.
      expect(await inFlight()).toBe(true);
      expect(await checkpointNames('restoring-')).toEqual(['restoring-1', 'restoring-2']);
      expect((await getPolicy('ret-restore')).status).toMatchObject({ checkpointsDeleted: 0 });

      gate.release();
      await expect
        .poll(async () => (await getCheckpoint(NS, 'restoring-1')).status?.restores?.at(-1)?.result, {
          timeout: 90_000,
        })
        .toBe('Succeeded');
      await sweepNow('ret-restore', 'sweep-ret-restore-2');
      await gone('restoring-1');
      expect(await checkpointNames('restoring-')).toEqual(['restoring-2']);
      await expect
        .poll(
          async () =>
            await stat(
              join(clusterDir, 'nodes', first!.status!.nodeName!, LOCAL_ROOT, 'restore', first!.status!.archive!.key!),
            ).catch(() => undefined),
          { timeout: 60_000 },
        )
        .toBeUndefined();
    } finally {
      await gate.close();
      await distrust();
    }
  }, 300_000);
});

import { mkdir, readFile } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type S3Server, startMinio } from '../cluster/minio.js';
import { generateCa, issueServingCert } from '../cluster/pki.js';
import { clusterContext, clusterServerHost } from './support/cluster-context.js';
import { eventsFor, runWorkload, waitForTerminal } from './support/checkpoints.js';
import { kubectl } from './support/kube.js';
import { adminS3, createBucket, objectDigest, objectKeys, pendingUploads } from './support/s3.js';

const NS = 's3-e2e';
const OPERATOR_NS = 'checkpoint-operator-system';
const root = join(import.meta.dirname, '../..');
const { s3, sparePodPorts, clusterDir, pushgatewayUrl } = clusterContext();
let admin: S3Client;

function checkpointYaml(name: string, spec: string, namespace = NS): string {
  return `apiVersion: checkpoint.example.com/v1alpha1\nkind: Checkpoint\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n${spec}`;
}

const s3Storage = (fields: Record<string, string | boolean | Record<string, string>>) =>
  `  storage:\n    backend: s3\n    s3:\n${Object.entries(fields)
    .map(([k, v]) =>
      typeof v === 'object'
        ? `      ${k}:\n${Object.entries(v)
            .map(([a, b]) => `        ${a}: ${b}`)
            .join('\n')}`
        : `      ${k}: ${JSON.stringify(v)}`,
    )
    .join('\n')}\n`;

async function jobOf(
  namespace: string,
  name: string,
): Promise<
  | {
      metadata: { name: string };
      spec: {
        template: {
          spec: {
            volumes?: { name: string; secret?: { secretName: string } }[];
            containers: { env: { name: string; value?: string }[] }[];
          };
        };
      };
    }
  | undefined
> {
  const out = JSON.parse(
    await kubectl([
      'get',
      'jobs',
      '-n',
      OPERATOR_NS,
      '-l',
      `checkpoint.example.com/owner-namespace=${namespace},checkpoint.example.com/owner-name=${name}`,
      '-o',
      'json',
    ]),
  );
  return out.items[0];
}

/** Peak RSS of the Job's process, as the Job pushed it to the Pushgateway (its getrusage high-water mark). */
async function jobPeakRss(checkpoint: string): Promise<number> {
  const res = await fetch(`${pushgatewayUrl}/api/v1/metrics`);
  const groups = (
    (await res.json()) as {
      data: {
        labels: Record<string, string>;
        checkpoint_operator_job_peak_rss_bytes?: { metrics: { value: string }[] };
      }[];
    }
  ).data;
  const group = groups.find(
    (g) => g.labels.action === 'checkpoint' && g.labels.namespace === NS && g.labels.name === checkpoint,
  );
  return Number(group?.checkpoint_operator_job_peak_rss_bytes?.metrics[0]?.value ?? Number.NaN);
}

async function operatorRestarts(): Promise<number> {
  const pods = JSON.parse(
    await kubectl(['get', 'pods', '-n', OPERATOR_NS, '-l', 'control-plane=controller-manager', '-o', 'json']),
  );
  return pods.items.reduce(
    (n: number, p: { status: { containerStatuses?: { restartCount: number }[] } }) =>
      n + (p.status.containerStatuses ?? []).reduce((m, s) => m + s.restartCount, 0),
    0,
  );
}

beforeAll(async () => {
  admin = adminS3(s3);
  await createBucket(admin, 'checkpoints');
  await kubectl(['create', 'namespace', NS]).catch(() => undefined);
  await runWorkload(NS, 'app', { memoryMiB: 3 });
});

afterAll(async () => {
  // The seed Checkpoint and pod live in default, where other tests apply the samples verbatim.
  await kubectl([
    'delete',
    'checkpoints.checkpoint.example.com',
    'my-app-checkpoint',
    '-n',
    'default',
    '--ignore-not-found',
    '--wait=true',
  ]);
  await kubectl(['delete', 'pod', 'my-app-pod-0', '-n', 'default', '--ignore-not-found', '--wait=true']);
  admin?.destroy();
});

describe('checkpoints stored in S3 (a real MinIO)', () => {
  it('the seed example-checkpoint.yaml, its endpoint pointed at the local S3, ends Succeeded with the object under its prefix', async () => {
    await kubectl([
      'delete',
      'checkpoints.checkpoint.example.com',
      'my-app-checkpoint',
      '-n',
      'default',
      '--ignore-not-found',
      '--wait=true',
    ]);
    await kubectl(['apply', '-f', join(root, 'manifests/samples/example-checkpoint-policy.yaml')]);
    await runWorkload('default', 'my-app-pod-0');
    const seed = await readFile(join(root, 'manifests/samples/example-checkpoint.yaml'), 'utf8');
    expect(seed).toContain('endpoint: "s3.example.com"');
    await kubectl(
      ['apply', '-n', 'default', '-f', '-'],
      seed.replace('endpoint: "s3.example.com"', `endpoint: "${s3.endpoint}"`),
    );

    const c = await waitForTerminal('default', 'my-app-checkpoint');
    expect(c.status?.phase, c.status?.message).toBe('Succeeded');
    const archive = c.status!.archive!;
    expect(archive.backend).toBe('s3');
    const key = `my-app/default/my-app-checkpoint/${c.metadata.uid}/`;
    expect(archive.uri).toMatch(
      new RegExp(`^s3://checkpoints/${key}checkpoint-my-app-pod-0_default-main-\\d{8}T\\d{6}Z\\.tar$`),
    );
    const objectKey = archive.uri.slice('s3://checkpoints/'.length);
    expect(await objectDigest(admin, 'checkpoints', objectKey)).toEqual({
      size: archive.sizeBytes,
      sha256: archive.sha256,
    });
    expect(await objectKeys(admin, 'checkpoints', key)).toEqual([objectKey]);
    // The operator's default credentials reached the Job as a mounted per-Job Secret, not as env.
    const job = await jobOf('default', 'my-app-checkpoint');
    expect(job!.spec.template.spec.volumes!.find((v) => v.name === 's3-secret')?.secret?.secretName).toBe(
      job!.metadata.name,
    );
    expect(JSON.stringify(job!.spec.template.spec.containers[0]!.env)).not.toContain(s3.secretAccessKey);
    // ...and that copy is gone once the Checkpoint has its result.
    await expect
      .poll(
        async () =>
          (
            await kubectl(['get', 'secret', job!.metadata.name, '-n', OPERATOR_NS, '--ignore-not-found', '-o', 'name'])
          ).trim(),
        { timeout: 15_000 },
      )
      .toBe('');
  });

  it('uses credentials from a Secret the Checkpoint names in its own namespace', async () => {
    await kubectl([
      'create',
      'secret',
      'generic',
      'team-s3',
      '-n',
      NS,
      `--from-literal=AWS_ACCESS_KEY_ID=${s3.accessKeyId}`,
      `--from-literal=AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey}`,
    ]);
    await kubectl(
      ['apply', '-f', '-'],
      checkpointYaml(
        'own-secret',
        `  target:\n    podName: app\n${s3Storage({
          endpoint: s3.endpoint,
          bucket: 'checkpoints',
          prefix: 'team/',
          forcePathStyle: true,
          credentialsSecretRef: { name: 'team-s3' },
        })}`,
      ),
    );
    const c = await waitForTerminal(NS, 'own-secret');
    expect(c.status?.phase, c.status?.message).toBe('Succeeded');
    expect(c.status!.archive!.uri).toContain(`s3://checkpoints/team/${NS}/own-secret/`);
  });

  it('trusts an HTTPS endpoint through caBundleSecretRef, and refuses it without', async () => {
    const dir = join(clusterDir, 'minio-tls');
    await mkdir(dir, { recursive: true });
    const ca = await generateCa(dir, 's3-ca', 'local S3 test CA');
    const host = clusterServerHost();
    const serving = await issueServingCert(ca, 'minio-tls', host.ip, { ips: [host.ip] });
    const server = await startMinio({
      dir,
      host,
      port: sparePodPorts[2]!,
      name: 'minio-tls',
      tls: { ...serving, ca: ca.caCert },
    });
    const tlsAdmin = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
      requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ ca: await readFile(ca.caCert) }) }),
    });
    try {
      await createBucket(tlsAdmin, 'secure');
      await kubectl([
        'create',
        'secret',
        'generic',
        'tls-s3',
        '-n',
        NS,
        `--from-literal=AWS_ACCESS_KEY_ID=${server.accessKeyId}`,
        `--from-literal=AWS_SECRET_ACCESS_KEY=${server.secretAccessKey}`,
      ]);
      await kubectl(['create', 'secret', 'generic', 'tls-ca', '-n', NS, `--from-file=bundle.pem=${ca.caCert}`]);
      const storage = { endpoint: server.endpoint, bucket: 'secure', credentialsSecretRef: { name: 'tls-s3' } };
      await kubectl(
        ['apply', '-f', '-'],
        checkpointYaml(
          'tls-trusted',
          `  target:
    podName: app
${s3Storage({ ...storage, caBundleSecretRef: { name: 'tls-ca', key: 'bundle.pem' } })}`,
        ),
      );
      await kubectl(
        ['apply', '-f', '-'],
        checkpointYaml(
          'tls-untrusted',
          `  target:
    podName: app
${s3Storage(storage)}`,
        ),
      );
      const trusted = await waitForTerminal(NS, 'tls-trusted');
      expect(trusted.status?.phase, trusted.status?.message).toBe('Succeeded');
      expect(await objectKeys(tlsAdmin, 'secure')).toEqual([trusted.status!.archive!.uri.slice('s3://secure/'.length)]);
      const untrusted = await waitForTerminal(NS, 'tls-untrusted');
      expect(untrusted.status?.conditions?.find((x) => x.type === 'Succeeded')?.reason).toBe('StorageTLSError');
      expect(untrusted.status?.message).toContain('caBundleSecretRef');
    } finally {
      tlsAdmin.destroy();
      await server.stop();
    }
  });

  describe('fails with a clear reason, leaves nothing looking complete, and the dispatcher carries on', () => {
    let restartsBefore = 0;
    beforeAll(async () => {
      restartsBefore = await operatorRestarts();
    });
    afterAll(async () => {
      expect(await operatorRestarts()).toBe(restartsBefore);
    });

    it('StorageAccessDenied with wrong credentials', async () => {
      await kubectl([
        'create',
        'secret',
        'generic',
        'wrong-s3',
        '-n',
        NS,
        `--from-literal=AWS_ACCESS_KEY_ID=${s3.accessKeyId}`,
        '--from-literal=AWS_SECRET_ACCESS_KEY=wrong-secret-value',
      ]);
      await kubectl(
        ['apply', '-f', '-'],
        checkpointYaml(
          'wrong-creds',
          `  target:\n    podName: app\n${s3Storage({
            endpoint: s3.endpoint,
            bucket: 'checkpoints',
            prefix: 'wrong/',
            credentialsSecretRef: { name: 'wrong-s3' },
          })}`,
        ),
      );
      const c = await waitForTerminal(NS, 'wrong-creds');
      expect(c.status?.phase).toBe('Failed');
      expect(c.status?.conditions?.find((x) => x.type === 'Succeeded')?.reason).toBe('StorageAccessDenied');
      expect(c.status?.message).not.toContain('wrong-secret-value');
      expect(c.status?.archive).toBeUndefined();
      expect(
        (await eventsFor(NS, 'wrong-creds')).some((e) => e.type === 'Warning' && e.reason === 'StorageAccessDenied'),
      ).toBe(true);
      expect(await objectKeys(admin, 'checkpoints', 'wrong/')).toEqual([]);
    });

    it('CredentialsNotFound when the named Secret does not exist (no Job is created)', async () => {
      await kubectl(
        ['apply', '-f', '-'],
        checkpointYaml(
          'no-secret',
          `  target:\n    podName: app\n${s3Storage({
            endpoint: s3.endpoint,
            bucket: 'checkpoints',
            credentialsSecretRef: { name: 'does-not-exist' },
          })}`,
        ),
      );
      const c = await waitForTerminal(NS, 'no-secret');
      expect(c.status?.conditions?.find((x) => x.type === 'Succeeded')?.reason).toBe('CredentialsNotFound');
      expect(c.status?.message).toContain(`${NS}/does-not-exist`);
      expect(await jobOf(NS, 'no-secret')).toBeUndefined();
    });

    it('BucketNotFound when the bucket is missing', async () => {
      await kubectl(
        ['apply', '-f', '-'],
        checkpointYaml(
          'no-bucket',
          `  target:\n    podName: app\n${s3Storage({ endpoint: s3.endpoint, bucket: 'no-such-bucket' })}`,
        ),
      );
      const c = await waitForTerminal(NS, 'no-bucket');
      expect(c.status?.conditions?.find((x) => x.type === 'Succeeded')?.reason).toBe('BucketNotFound');
    });

    // The Job tries unreachable storage again for 30 s (a restarting S3 server must not fail a
    // checkpoint), so this one takes that long to fail.
    it('StorageUnreachable when nothing answers at the endpoint', async () => {
      await kubectl(
        ['apply', '-f', '-'],
        checkpointYaml(
          'no-endpoint',
          `  target:\n    podName: app\n${s3Storage({ endpoint: `http://${clusterServerHost().ip}:${sparePodPorts[0]}`, bucket: 'checkpoints' })}`,
        ),
      );
      const c = await waitForTerminal(NS, 'no-endpoint', 150_000);
      expect(c.status?.conditions?.find((x) => x.type === 'Succeeded')?.reason).toBe('StorageUnreachable');
      expect(Date.parse(c.status!.completionTime!) - Date.parse(c.status!.startTime!)).toBeGreaterThanOrEqual(20_000);
    }, 180_000);

    it('S3 stopped mid-upload: Failed, and once it is back no object exists for the Checkpoint', async () => {
      const port = sparePodPorts[1]!;
      const dir = join(clusterDir, 'minio-outage');
      let server: S3Server = await startMinio({ dir, host: clusterServerHost(), port, name: 'minio-outage' });
      const outage = adminS3(server);
      try {
        await createBucket(outage, 'outage');
        await kubectl([
          'create',
          'secret',
          'generic',
          'outage-s3',
          '-n',
          NS,
          `--from-literal=AWS_ACCESS_KEY_ID=${server.accessKeyId}`,
          `--from-literal=AWS_SECRET_ACCESS_KEY=${server.secretAccessKey}`,
        ]);
        await runWorkload(NS, 'big', { memoryMiB: 600 });
        await kubectl(
          ['apply', '-f', '-'],
          checkpointYaml(
            'outage',
            `  target:\n    podName: big\n${s3Storage({
              endpoint: server.endpoint,
              bucket: 'outage',
              prefix: 'p/',
              credentialsSecretRef: { name: 'outage-s3' },
            })}`,
          ),
        );
        // Stop the server once the multipart upload is under way.
        await expect
          .poll(() => pendingUploads(outage, 'outage').catch(() => []), { timeout: 90_000, interval: 100 })
          .not.toEqual([]);
        await server.process.stop(0);
        const c = await waitForTerminal(NS, 'outage', 180_000);
        expect(c.status?.phase).toBe('Failed');
        expect(['StorageUnreachable', 'StorageTimeout']).toContain(
          c.status?.conditions?.find((x) => x.type === 'Succeeded')?.reason,
        );
        expect(c.status?.archive).toBeUndefined();
        server = await startMinio({
          dir,
          host: clusterServerHost(),
          port,
          name: 'minio-outage',
          credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
        });
        expect(await objectKeys(adminS3(server), 'outage', 'p/')).toEqual([]);
      } finally {
        outage.destroy();
        await server.stop();
      }
    }, 240_000);
  });

  it('uploads an archive larger than the Job memory limit with the Job RSS bounded', async () => {
    // The runtime's archive is smaller than the memory it holds: 600 MiB of the workload's mixed
    // memory gives an archive of about 237 MiB on containerd 2.3 with CRIU 4.2 (400 MiB gave 205
    // MiB), more than the Job's 192Mi memory limit, which is what this case is about.
    const memory = 600 * 1024 * 1024;
    const size = 200 * 1024 * 1024;
    await runWorkload(NS, 'large', { memoryMiB: memory / 2 ** 20 });
    await kubectl(
      ['apply', '-f', '-'],
      checkpointYaml(
        'large',
        `  target:\n    podName: large\n${s3Storage({ endpoint: s3.endpoint, bucket: 'checkpoints', prefix: 'large/' })}`,
      ),
    );
    const c = await waitForTerminal(NS, 'large', 180_000);
    expect(c.status?.phase, c.status?.message).toBe('Succeeded');
    expect(c.status!.archive!.sizeBytes).toBeGreaterThan(size);
    const job = await jobOf(NS, 'large');
    const limit = JSON.parse(await kubectl(['get', 'job', job!.metadata.name, '-n', OPERATOR_NS, '-o', 'json'])).spec
      .template.spec.containers[0].resources.limits.memory;
    expect(limit).toBe('192Mi');
    const peak = await jobPeakRss('large');
    expect(peak).toBeGreaterThan(10 * 1024 * 1024);
    expect(peak).toBeLessThan(150 * 1024 * 1024);
    const { size: stored, sha256 } = await objectDigest(
      admin,
      'checkpoints',
      c.status!.archive!.uri.slice('s3://checkpoints/'.length),
    );
    expect({ stored, sha256 }).toEqual({ stored: c.status!.archive!.sizeBytes, sha256: c.status!.archive!.sha256 });
    process.stderr.write(
      `S3 upload of ${(c.status!.archive!.sizeBytes / 2 ** 20).toFixed(0)} MiB: Job peak RSS ${(peak / 2 ** 20).toFixed(1)} MiB (limit 192Mi)\n`,
    );
  }, 240_000);
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_TYPE } from '../../src/oci/checkpoint-image.js';
import { readBody } from '../../src/oci/http-exchange.js';
import { RegistryClient } from '../../src/oci/registry-client.js';
import { startRegistry, type RegistryServer } from '../cluster/registry.js';
import { clusterContext } from '../e2e/support/cluster-context.js';
import { failureLines, lastLine, npmScript, type ScriptResult } from './support/npm-script.js';
import { AMD64, ARM64, pushTestBase } from './support/test-base.js';

const { registryHost } = clusterContext();
const BASE = `${registryHost}/node-base:26`;
const AMD64_ONLY_BASE = `${registryHost}/node-base:26-amd64-only`;
const TARGET = `${registryHost}/checkpoint-operator`;
/** ELF e_machine values, at byte 18 of the header. */
const ELF_MACHINE = { amd64: 0x3e, arm64: 0xb7 } as const;

interface IndexDoc {
  manifests: { digest: string; platform: { os: string; architecture: string } }[];
  annotations?: Record<string, string>;
}
interface ManifestDoc {
  config: { digest: string };
  layers: { digest: string; mediaType: string }[];
}

const cluster = () => new RegistryClient({ repository: TARGET, insecure: true });

async function json<T>(client: RegistryClient, digest: string): Promise<T> {
  return JSON.parse((await readBody(await client.openBlob(digest), 1 << 20, digest)).toString('utf8')) as T;
}

async function manifest<T>(client: RegistryClient, reference: string): Promise<{ digest: string; doc: T }> {
  const fetched = await client.getManifest(reference, [MEDIA_TYPE.index, MEDIA_TYPE.manifest]);
  return { digest: fetched.digest, doc: JSON.parse(fetched.bytes.toString('utf8')) as T };
}

/** The ELF machine of a file inside a gzip layer, read from the layer's bytes in the registry. */
async function elfMachineIn(client: RegistryClient, layerDigest: string, path: string): Promise<number | undefined> {
  let machine: number | undefined;
  const untar = extract();
  untar.on('entry', (header, stream, next) => {
    if (header.name === path) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        machine = Buffer.concat(chunks).subarray(0, 20).readUInt16LE(18);
        next();
      });
    } else {
      stream.on('end', next);
      stream.resume();
    }
  });
  await pipeline(await client.openBlob(layerDigest), createGunzip(), untar);
  return machine;
}

/** A failed run: exit code 1, and one line saying why, printed last. */
function expectOneFailureLine(result: ScriptResult): void {
  expect(result.code, result.stderr).toBe(1);
  expect(failureLines('image', result.stderr), result.stderr).toHaveLength(1);
}

let work: string;
const registries: RegistryServer[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'operator-image-test-'));
  await pushTestBase({ registryHost, repository: 'node-base', tag: '26', platforms: [AMD64, ARM64] });
  await pushTestBase({ registryHost, repository: 'node-base', tag: '26-amd64-only', platforms: [AMD64] });
});

afterAll(async () => {
  for (const r of registries) await r.stop();
  await rm(work, { recursive: true, force: true });
});

describe('npm run image', () => {
  let pinned: string;

  it('pushes a two-platform image without Docker and prints its reference pinned by digest', async () => {
    const result = await npmScript('image', [
      '--push',
      `${TARGET}:install-test`,
      '--base',
      BASE,
      '--insecure-registry',
      registryHost,
    ]);
    expect(result.code, result.stderr).toBe(0);
    pinned = result.stdout.trim();
    expect(pinned).toMatch(new RegExp(`^${TARGET.replace(/[.]/g, '\\.')}:install-test@sha256:[a-f0-9]{64}$`));

    const client = cluster();
    try {
      const index = await manifest<IndexDoc>(client, 'install-test');
      expect(`${TARGET}:install-test@${index.digest}`).toBe(pinned);
      expect(index.doc.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`)).toEqual([
        'linux/amd64',
        'linux/arm64',
      ]);
      expect(index.doc.annotations?.['org.opencontainers.image.base.name']).toBe(BASE);
      const base = await manifest<IndexDoc>(
        new RegistryClient({ repository: `${registryHost}/node-base`, insecure: true }),
        '26',
      );
      const operatorLayers = new Set<string>();
      for (const entry of index.doc.manifests) {
        const arch = entry.platform.architecture as 'amd64' | 'arm64';
        const image = await manifest<ManifestDoc>(client, entry.digest);
        const config = await json<{
          architecture: string;
          os: string;
          config: { Entrypoint: string[]; User: string };
          rootfs: { diff_ids: string[] };
        }>(client, image.doc.config.digest);
        expect(config).toMatchObject({ os: 'linux', architecture: arch });
        expect(config.config.Entrypoint).toEqual(['/manager']);
        expect(config.config.User).toBe('65532:65532');
        expect(config.rootfs.diff_ids).toHaveLength(image.doc.layers.length);
        // The base's layers for that platform, then the one layer of this build.
        const baseImage = await manifest<ManifestDoc>(
          new RegistryClient({ repository: `${registryHost}/node-base`, insecure: true }),
          base.doc.manifests.find((m) => m.platform.architecture === arch)!.digest,
        );
        expect(image.doc.layers.slice(0, -1).map((l) => l.digest)).toEqual(baseImage.doc.layers.map((l) => l.digest));
        operatorLayers.add(image.doc.layers.at(-1)!.digest);
        // Node.js in the image is built for the platform the index says.
        expect(await elfMachineIn(client, image.doc.layers[0]!.digest, 'usr/local/bin/node')).toBe(ELF_MACHINE[arch]);
      }
      // The bundles are plain JavaScript: one layer serves both platforms.
      expect(operatorLayers.size).toBe(1);
    } finally {
      client.close();
    }
  });

  it('refuses a base without a platform asked for, in one line, and leaves the tag where it was', async () => {
    const result = await npmScript('image', [
      '--push',
      `${TARGET}:install-test`,
      '--base',
      AMD64_ONLY_BASE,
      '--insecure-registry',
      registryHost,
    ]);
    expectOneFailureLine(result);
    expect(lastLine(result.stderr)).toContain('has no linux/arm64 image (it has: linux/amd64)');
    const client = cluster();
    try {
      expect(`${TARGET}:install-test@${(await manifest<IndexDoc>(client, 'install-test')).digest}`).toBe(pinned);
    } finally {
      client.close();
    }
  });

  it('says in one line that a registry is unreachable', async () => {
    const closed = await startRegistry({ dir: work, name: 'closed' });
    const address = closed.host;
    await closed.stop();
    const result = await npmScript('image', [
      '--push',
      `${address}/checkpoint-operator:x`,
      '--base',
      BASE,
      '--insecure-registry',
      registryHost,
    ]);
    expectOneFailureLine(result);
    expect(lastLine(result.stderr)).toMatch(
      new RegExp(`^image: registry ${address.replace(/[.]/g, '\\.')} is unreachable \\(ECONNREFUSED\\)`),
    );
  });

  it('pushes with the credentials of a Docker config, and refuses wrong ones in one line', async () => {
    const registry = await startRegistry({ dir: work, name: 'basic', auth: 'basic' });
    registries.push(registry);
    const config = (password: string) =>
      JSON.stringify({
        auths: { [registry.host]: { auth: Buffer.from(`${registry.username}:${password}`).toString('base64') } },
      });
    const wrong = join(work, 'wrong.json');
    const right = join(work, 'right.json');
    await writeFile(wrong, config('not-the-password'), { mode: 0o600 });
    await writeFile(right, config(registry.password!), { mode: 0o600 });
    const target = `${registry.host}/team/checkpoint-operator:v1`;

    const refused = await npmScript('image', [
      '--push',
      target,
      '--base',
      BASE,
      '--insecure-registry',
      registryHost,
      '--docker-config',
      wrong,
    ]);
    expectOneFailureLine(refused);
    expect(lastLine(refused.stderr)).toContain('refused the credentials');
    expect(refused.stderr).not.toContain(registry.password!);

    const pushed = await npmScript('image', [
      '--push',
      target,
      '--base',
      BASE,
      '--insecure-registry',
      registryHost,
      '--docker-config',
      right,
    ]);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout.trim()).toMatch(/^.+\/team\/checkpoint-operator:v1@sha256:[a-f0-9]{64}$/);
  });

  it('trusts a private CA given with --ca-file, and fails in one line without it', async () => {
    const registry = await startRegistry({ dir: work, name: 'tls', tls: true });
    registries.push(registry);
    const ca = join(work, 'registry-ca.pem');
    await writeFile(ca, registry.ca!);
    // The base comes from the plain-HTTP cluster registry (insecure); the TLS registry is spoken to
    // over HTTPS, verified against the system's roots and, with --ca-file, the registry's CA.
    const target = `${registry.host}/checkpoint-operator:v1`;
    const untrusted = await npmScript('image', ['--push', target, '--base', BASE, '--insecure-registry', registryHost]);
    expectOneFailureLine(untrusted);
    expect(lastLine(untrusted.stderr)).toContain(registry.host);

    const trusted = await npmScript('image', [
      '--push',
      target,
      '--base',
      BASE,
      '--insecure-registry',
      registryHost,
      '--ca-file',
      ca,
    ]);
    expect(trusted.code, trusted.stderr).toBe(0);
  });

  it('answers a missing or malformed option with usage, exit code 2', async () => {
    const missing = await npmScript('image', ['--base', BASE]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--push <registry>/<repository>:<tag> is required');
    const digest = await npmScript('image', ['--push', `${TARGET}@sha256:${'0'.repeat(64)}`]);
    expect(digest.code).toBe(2);
    expect(digest.stderr).toContain('give a tag');
    const platform = await npmScript('image', ['--push', `${TARGET}:x`, '--platform', 'arm64']);
    expect(platform.code).toBe(2);
    expect(platform.stderr).toContain('is not os/architecture');
  });
});

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RegistryClient } from '../../../src/oci/registry-client.js';
import { buildLayer, type BuiltLayer, type LayerEntry } from '../../../image/layer.js';
import { pushNodeBase } from '../../../image/node-base.js';
import { fetchBaseImage, type Platform, pushImage, type RunConfig, tagManifest } from '../../../image/oci-image.js';
import { publishOperatorImage } from '../../../image/operator-image.js';
import { type Binaries, cacheDir } from '../binaries.js';

const run = promisify(execFile);
const here = import.meta.dirname;
/** The Node.js the project carries (the `node` package): what the operator image runs. */
const PROJECT_NODE = join(here, '../../../node_modules/node/bin/node');
const PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/**
 * The images the local cluster's nodes run, by the names pods use. Nodes pull every registry
 * named here from the cluster's own registry (containerd's hosts.toml, see real-node.ts), where
 * the repository is the name's path: `registry.example.com/sample-app:1.0` is `sample-app:1.0`.
 */
export const CLUSTER_IMAGES = {
  /** The pod sandbox (containerd's pinned sandbox image). */
  pause: 'registry.k8s.io/pause:3.10',
  /** busybox (static) and the counter program at /usr/local/bin/counter: the test workload. */
  sampleApp: 'registry.example.com/sample-app:1.0',
  /** busybox alone, as local-path-provisioner's helper pods want it. */
  busybox: 'docker.io/library/busybox:latest',
  localPathProvisioner: 'docker.io/rancher/local-path-provisioner:v0.0.33',
  /** The operator, built from this checkout on a Node.js base made from the project's Node.js. */
  operator: 'registry.example.com/checkpoint-operator:v1.0.0',
} as const;

/** The path part of an image name: its repository in the cluster's registry. */
export function repositoryOf(image: string): { path: string; tag: string } {
  const [name, tag] = image.split(/:(?=[^/:]+$)/) as [string, string];
  return { path: name.slice(name.indexOf('/') + 1), tag };
}

/**
 * Builds the cluster's images and pushes them to its registry (`registryHost`, plain HTTP). The
 * operator image holds the build in `distDir` (`npm run build` output); the others are made from
 * programs this machine has or built (busybox-static, pause, the counter, local-path-provisioner).
 * Returns the digest of the operator image (an index of one platform, as releases are indexes).
 */
export async function pushClusterImages(opts: {
  registryHost: string;
  binaries: Binaries;
  distDir: string;
  workDir: string;
}): Promise<{ operatorDigest: string }> {
  const layers = join(cacheDir(), 'images');
  await mkdir(layers, { recursive: true });
  await mkdir(opts.workDir, { recursive: true });
  const client = (image: string) =>
    new RegistryClient({ repository: `${opts.registryHost}/${repositoryOf(image).path}`, insecure: true });
  const push = async (image: string, parts: BuiltLayer[], runConfig: RunConfig) => {
    const target = client(image);
    try {
      await tagManifest(
        target,
        repositoryOf(image).tag,
        await pushImage(target, { platform: PLATFORM, layers: parts, run: runConfig }),
      );
    } finally {
      target.close();
    }
  };

  const busybox = await cachedLayer(layers, 'busybox', await busyboxEntries());
  const pause = await cachedLayer(layers, 'pause', [
    { type: 'file', path: '/pause', mode: 0o755, source: opts.binaries.pause },
  ]);
  const counter = await cachedLayer(layers, 'counter', [
    { type: 'file', path: '/usr/local/bin/counter', mode: 0o755, source: await counterBinary() },
  ]);
  const provisioner = await cachedLayer(layers, 'local-path-provisioner', [
    { type: 'file', path: '/usr/bin/local-path-provisioner', mode: 0o755, source: opts.binaries.localPathProvisioner },
  ]);
  const path = 'PATH=/usr/local/bin:/usr/bin:/bin';
  await push(CLUSTER_IMAGES.pause, [pause], { Entrypoint: ['/pause'], User: '65535:65535' });
  await push(CLUSTER_IMAGES.busybox, [busybox], { Cmd: ['sh'], Env: [path] });
  await push(CLUSTER_IMAGES.sampleApp, [busybox, counter], { Cmd: ['/usr/local/bin/counter'], Env: [path] });
  await push(CLUSTER_IMAGES.localPathProvisioner, [busybox, provisioner], {
    Entrypoint: ['local-path-provisioner'],
    Env: [path],
  });

  // The operator: first its base, in the same registry, then the operator on that base, as a
  // release build on any other Node.js base does.
  const baseRef = `${opts.registryHost}/checkpoint-operator-base:node`;
  const baseClient = new RegistryClient({ repository: baseRef.replace(/:node$/, ''), insecure: true });
  const target = client(CLUSTER_IMAGES.operator);
  try {
    await pushNodeBase({
      target: baseClient,
      source: { nodeBinary: PROJECT_NODE },
      cacheDir: layers,
      tag: 'node',
      platform: PLATFORM,
    });
    const base = await fetchBaseImage(baseClient, 'node', PLATFORM);
    // The same build a release makes (npm run image), for this machine's platform only.
    const published = await publishOperatorImage({
      target,
      tag: repositoryOf(CLUSTER_IMAGES.operator).tag,
      bases: [base],
      distDir: opts.distDir,
      workDir: opts.workDir,
    });
    return { operatorDigest: published.digest };
  } finally {
    baseClient.close();
    target.close();
  }
}

/** busybox-static with a link for every applet in /bin, so `sh`, `sleep`, `wget`… are there. */
async function busyboxEntries(): Promise<LayerEntry[]> {
  const busybox = '/bin/busybox';
  const { stdout } = await run(busybox, ['--list']);
  const applets = stdout
    .split('\n')
    .map((a) => a.trim())
    .filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
  return [
    { type: 'file', path: '/bin/busybox', mode: 0o755, source: busybox },
    ...applets.map((a): LayerEntry => ({ type: 'symlink', path: `/bin/${a}`, target: 'busybox' })),
    { type: 'dir', path: '/tmp', mode: 0o1777 },
    { type: 'dir', path: '/root', mode: 0o700 },
    {
      type: 'file',
      path: '/etc/passwd',
      mode: 0o644,
      content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
    },
    { type: 'file', path: '/etc/group', mode: 0o644, content: 'root:x:0:\nnobody:x:65534:\n' },
  ];
}

/** The counter (counter.c), compiled static once per source version. */
async function counterBinary(): Promise<string> {
  const source = join(here, 'counter.c');
  const hash = createHash('sha256')
    .update(await readFile(source))
    .digest('hex')
    .slice(0, 12);
  const out = join(cacheDir(), 'bin', `counter-${hash}`, 'counter');
  if (await stat(out).catch(() => undefined)) return out;
  await mkdir(join(out, '..'), { recursive: true });
  await run('gcc', ['-O2', '-static', '-o', `${out}.tmp`, source]);
  await rename(`${out}.tmp`, out);
  return out;
}

/** A layer built once per machine for the same entries (keyed by their paths, sources' sizes and times). */
async function cachedLayer(dir: string, name: string, entries: LayerEntry[]): Promise<BuiltLayer> {
  const key = createHash('sha256');
  for (const e of entries) {
    key.update(
      JSON.stringify({
        ...e,
        content: 'content' in e ? createHash('sha256').update(e.content).digest('hex') : undefined,
      }),
    );
    if (e.type === 'file' && 'source' in e) {
      const s = await stat(e.source);
      key.update(`${s.size}:${s.mtimeMs}`);
    }
  }
  const file = join(dir, `${name}-${key.digest('hex').slice(0, 16)}.tar.gz`);
  const meta = await readFile(`${file}.json`, 'utf8').then(
    (t) => JSON.parse(t) as BuiltLayer,
    () => undefined,
  );
  if (meta && (await stat(file).catch(() => undefined))) return meta;
  const partial = `${file}.${process.pid}.tmp`;
  try {
    const built = await buildLayer(entries, partial);
    await rename(partial, file);
    const layer = { ...built, file };
    await writeFile(`${file}.json`, JSON.stringify(layer));
    return layer;
  } finally {
    await rm(partial, { force: true });
  }
}

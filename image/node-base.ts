import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import type { RegistryClient } from '../src/oci/registry-client.js';
import { type BuiltLayer, buildLayer, type LayerEntry } from './layer.js';
import { type Platform, type PushedManifest, pushImage, tagManifest } from './oci-image.js';

const run = promisify(execFile);

/** Where a base built from a Node.js binary puts it: the path the entrypoints' shebang names. */
export const NODE_PATH = '/usr/local/bin/node';
export const NONROOT = 65532;

/**
 * The files of a minimal Node.js base image made from a Node.js binary on this machine: the
 * binary, the shared libraries it links (as `ldd` resolves them, kept at their paths), the CA
 * bundle, and passwd/group entries for root and the non-root user 65532. No shell, no package
 * manager: what runs in it is Node.js and nothing else. This is how an image is built here
 * without pulling a base from a public registry; users can start from any Node.js base instead.
 */
export async function nodeBaseEntries(nodeBinary: string): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = [
    ...accountsAndTrust(),
    { type: 'file', path: NODE_PATH, mode: 0o755, source: await realpath(nodeBinary) },
  ];
  for (const lib of await sharedLibraries(nodeBinary)) {
    entries.push({ type: 'file', path: lib.real, mode: 0o755, source: lib.real });
    if (lib.path !== lib.real) entries.push({ type: 'symlink', path: lib.path, target: lib.real });
  }
  return entries;
}

/**
 * The same base for another platform, whose binaries this machine cannot run (so `ldd` cannot
 * list the libraries): everything in `rootfs`, which holds Node.js at usr/local/bin/node and the
 * libraries it links, as test/cluster/build/fetch-arm64-node.sh lays them out.
 */
export async function rootfsNodeBaseEntries(rootfs: string): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = accountsAndTrust();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const source = join(dir, e.name);
      const path = `/${relative(rootfs, source)}`;
      if (e.isSymbolicLink()) entries.push({ type: 'symlink', path, target: await readlink(source) });
      else if (e.isDirectory()) await walk(source);
      else if (e.isFile()) entries.push({ type: 'file', path, mode: (await stat(source)).mode & 0o7777, source });
    }
  };
  await walk(rootfs);
  if (!entries.some((e) => e.path === NODE_PATH)) throw new Error(`${rootfs} has no ${NODE_PATH.slice(1)}`);
  return entries;
}

/** passwd and group entries for root and the non-root user, the CA bundle, /tmp and the homes. */
function accountsAndTrust(): LayerEntry[] {
  return [
    {
      type: 'file',
      path: '/etc/passwd',
      mode: 0o644,
      content: `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${NONROOT}:${NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n`,
    },
    { type: 'file', path: '/etc/group', mode: 0o644, content: `root:x:0:\nnonroot:x:${NONROOT}:\n` },
    {
      type: 'file',
      path: '/etc/ssl/certs/ca-certificates.crt',
      mode: 0o644,
      source: '/etc/ssl/certs/ca-certificates.crt',
    },
    { type: 'dir', path: '/tmp', mode: 0o1777 },
    { type: 'dir', path: '/root', mode: 0o700 },
    { type: 'dir', path: '/home/nonroot', mode: 0o700, uid: NONROOT, gid: NONROOT },
  ];
}

/** The libraries (and the dynamic loader) a binary loads, as `ldd` lists them, with their real files. */
async function sharedLibraries(binary: string): Promise<{ path: string; real: string }[]> {
  const { stdout } = await run('ldd', [binary]);
  const paths = new Set<string>();
  for (const line of stdout.split('\n')) {
    // "libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m) paths.add(m[1]!);
  }
  if (paths.size === 0)
    throw new Error(
      `ldd found no shared libraries for ${binary}: is it a dynamically linked ELF binary for this machine?`,
    );
  return Promise.all([...paths].map(async (path) => ({ path, real: await realpath(path) })));
}

/**
 * Pushes a Node.js base for one platform: made from a Node.js binary of this machine
 * (nodeBaseEntries) or from a root filesystem of another platform's (rootfsNodeBaseEntries). Its
 * one layer is kept in `cacheDir`, keyed by the source, so a machine builds it once. With `tag`
 * the manifest is tagged; without, it is stored by digest only (for an index to name).
 */
export async function pushNodeBase(opts: {
  target: RegistryClient;
  source: { nodeBinary: string } | { rootfs: string };
  cacheDir: string;
  tag?: string;
  platform: Platform;
}): Promise<PushedManifest> {
  const origin = 'nodeBinary' in opts.source ? await realpath(opts.source.nodeBinary) : opts.source.rootfs;
  const { size, mtimeMs } = await stat('nodeBinary' in opts.source ? origin : join(origin, NODE_PATH));
  const key = createHash('sha256')
    .update(`${origin}\0${size}\0${mtimeMs}\0${LAYER_FORMAT}\0${opts.platform.architecture}`)
    .digest('hex')
    .slice(0, 16);
  const layerFile = join(opts.cacheDir, `node-base-${key}.tar.gz`);
  const metaFile = `${layerFile}.json`;
  let layer = await readFile(metaFile, 'utf8').then(
    (t) => JSON.parse(t) as BuiltLayer,
    () => undefined,
  );
  if (!layer || !(await stat(layerFile).catch(() => undefined))) {
    await mkdir(opts.cacheDir, { recursive: true });
    const partial = `${layerFile}.${process.pid}.tmp`;
    const entries = 'nodeBinary' in opts.source ? await nodeBaseEntries(origin) : await rootfsNodeBaseEntries(origin);
    const built = await buildLayer(entries, partial);
    await rename(partial, layerFile);
    layer = { ...built, file: layerFile };
    await writeFile(metaFile, JSON.stringify(layer));
  }
  const pushed = await pushImage(opts.target, {
    platform: opts.platform,
    layers: [layer],
    run: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], User: '0:0' },
  });
  if (opts.tag) await tagManifest(opts.target, opts.tag, pushed);
  return pushed;
}

/** Changes when what nodeBaseEntries puts in the layer changes, so cached layers are rebuilt. */
const LAYER_FORMAT = 2;

import { readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { RegistryClient } from '../src/oci/registry-client.js';
import { type BuiltLayer, buildLayer, type LayerEntry } from './layer.js';
import { NODE_PATH, NONROOT } from './node-base.js';
import {
  type BaseImage,
  type Platform,
  type PushedManifest,
  pushImage,
  pushIndex,
  type RunConfig,
} from './oci-image.js';

/** Where the build (dist/) goes in the image. */
const APP = '/app/dist';

/**
 * What the operator image adds to a Node.js base: the bundles of `npm run build` and one
 * executable per program, `/manager` and `/jobs/<action>`. They need no shell: the kernel runs
 * Node.js from the shebang line, and a dynamic import() is valid in the CommonJS that Node.js
 * assumes for files without an extension. The Deployment and every Job name these paths.
 */
export async function operatorLayerEntries(distDir: string): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = [];
  for (const file of await filesUnder(distDir)) {
    const path = relative(distDir, file);
    entries.push({ type: 'file', path: `${APP}/${path}`, mode: 0o644, source: file });
  }
  const launcher = (bundle: string) => `#!${NODE_PATH}\nimport(${JSON.stringify(bundle)});\n`;
  entries.push({ type: 'file', path: '/manager', mode: 0o755, content: launcher(`${APP}/manager.js`) });
  for (const job of await readdir(join(distDir, 'jobs')).catch(() => [] as string[])) {
    if (!job.endsWith('.js')) continue;
    entries.push({
      type: 'file',
      path: `/jobs/${job.slice(0, -3)}`,
      mode: 0o755,
      content: launcher(`${APP}/jobs/${job}`),
    });
  }
  if (!entries.some((e) => e.path === `${APP}/manager.js`))
    throw new Error(`${distDir} has no manager.js: run npm run build first`);
  return entries;
}

export const OPERATOR_RUN_CONFIG: RunConfig = {
  User: `${NONROOT}:${NONROOT}`,
  Entrypoint: ['/manager'],
  Env: ['NODE_ENV=production'],
  WorkingDir: '/',
};

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

export interface PublishedImage {
  /** The index's digest: what `<repository>@<digest>` pins, for every platform at once. */
  digest: string;
  manifests: PushedManifest[];
}

/**
 * Builds the operator image on a base for each platform and pushes them as one multi-platform
 * index tagged `tag`. The bundles are plain JavaScript, so one layer serves every platform; the
 * base supplies Node.js for each. Everything is pushed by digest first and the tag is written
 * last, in one request: a failure anywhere before leaves the tag where it was, never pointing at
 * a half-pushed image.
 */
export async function publishOperatorImage(opts: {
  target: RegistryClient;
  tag: string;
  /** One base per platform, already read from its registry (fetchBaseImage). */
  bases: BaseImage[];
  distDir: string;
  workDir: string;
  annotations?: Record<string, string>;
}): Promise<PublishedImage> {
  if (opts.bases.length === 0) throw new Error('no platform to build for');
  const layer: BuiltLayer = await buildLayer(
    await operatorLayerEntries(opts.distDir),
    join(opts.workDir, `operator-${process.pid}-${Date.now()}.tar.gz`),
  );
  try {
    const manifests: PushedManifest[] = [];
    for (const base of opts.bases) {
      manifests.push(
        await pushImage(opts.target, { platform: base.platform, base, layers: [layer], run: OPERATOR_RUN_CONFIG }),
      );
    }
    const digest = await pushIndex(opts.target, opts.tag, manifests, opts.annotations);
    return { digest, manifests };
  } finally {
    await rm(layer.file, { force: true });
  }
}

/** `linux/arm64/v8` → { os, architecture, variant }. */
export function parsePlatform(text: string): Platform {
  const [os, architecture, variant, ...rest] = text.split('/');
  if (!os || !architecture || rest.length > 0 || !/^[a-z0-9]+$/.test(os) || !/^[a-z0-9]+$/.test(architecture))
    throw new Error(`platform ${JSON.stringify(text)} is not os/architecture[/variant], such as linux/arm64`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export const platformName = (p: Platform): string => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;

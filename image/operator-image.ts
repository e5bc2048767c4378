import { readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { RegistryClient } from '../src/oci/registry-client.js';
import { buildLayer, type LayerEntry } from './layer.js';
import { NODE_PATH, NONROOT } from './node-base.js';
import { type BaseImage, type PushedManifest, pushImage, type RunConfig, tagManifest } from './oci-image.js';

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

/**
 * Builds the operator image on a base image and pushes it under `tag`: the base's layers, one
 * layer of this build, the run config above. Returns the manifest's digest (single platform).
 */
export async function pushOperatorImage(opts: {
  target: RegistryClient;
  base: BaseImage;
  distDir: string;
  workDir: string;
  tag: string;
}): Promise<PushedManifest> {
  const layer = await buildLayer(
    await operatorLayerEntries(opts.distDir),
    join(opts.workDir, `operator-${process.pid}-${Date.now()}.tar.gz`),
  );
  try {
    const pushed = await pushImage(opts.target, {
      platform: opts.base.platform,
      base: opts.base,
      layers: [layer],
      run: OPERATOR_RUN_CONFIG,
    });
    await tagManifest(opts.target, opts.tag, pushed);
    return pushed;
  } finally {
    await rm(layer.file, { force: true });
  }
}

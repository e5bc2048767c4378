import { createReadStream } from 'node:fs';
import { MEDIA_TYPE, sha256Digest } from '../src/oci/checkpoint-image.js';
import type { RegistryClient } from '../src/oci/registry-client.js';
import { readBody } from '../src/oci/http-exchange.js';
import type { BuiltLayer } from './layer.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** What a container of the image runs by default (the OCI config's `config`). */
export interface RunConfig {
  User?: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  Labels?: Record<string, string>;
}

export interface LayerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** An image already in a registry whose layers a new image starts from. */
export interface BaseImage {
  reference: string;
  platform: Platform;
  layers: LayerDescriptor[];
  diffIds: string[];
  run: RunConfig;
  /** Where its blobs are, to copy them when the target registry lacks them. */
  source: RegistryClient;
}

export interface ImageSpec {
  platform: Platform;
  base?: BaseImage;
  layers: BuiltLayer[];
  /** Merged over the base's: Env entries replace the base's of the same name. */
  run: RunConfig;
}

export interface PushedManifest {
  digest: string;
  size: number;
  mediaType: string;
  platform: Platform;
}

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const ACCEPT = [MEDIA_TYPE.index, MEDIA_TYPE.manifest, DOCKER_LIST, DOCKER_MANIFEST];
const CONFIG_LIMIT = 4 * 1024 * 1024;

/**
 * Pushes one platform's image: the base's layers (copied from the base's registry when the
 * target does not have them), the new layers, a config and a manifest. The manifest is stored
 * by digest only; tags are put on the index (or manifest) the caller names.
 */
export async function pushImage(target: RegistryClient, spec: ImageSpec): Promise<PushedManifest> {
  const baseLayers = spec.base?.layers ?? [];
  for (const layer of baseLayers) {
    if (await target.blobExists(layer.digest)) continue;
    await target.uploadBlob(await spec.base!.source.openBlob(layer.digest), layer);
  }
  for (const layer of spec.layers) {
    await target.uploadBlob(createReadStream(layer.file), { digest: layer.digest, size: layer.size });
  }
  const run = mergeRun(spec.base?.run ?? {}, spec.run);
  const config = Buffer.from(
    JSON.stringify({
      // A fixed date: the same inputs give the same image digest.
      created: '1970-01-01T00:00:00Z',
      architecture: spec.platform.architecture,
      os: spec.platform.os,
      ...(spec.platform.variant ? { variant: spec.platform.variant } : {}),
      config: run,
      rootfs: { type: 'layers', diff_ids: [...(spec.base?.diffIds ?? []), ...spec.layers.map((l) => l.diffId)] },
    }),
  );
  const configDigest = sha256Digest(config);
  await target.uploadBlob(bytesOf(config), { digest: configDigest, size: config.length });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.manifest,
      config: { mediaType: MEDIA_TYPE.config, digest: configDigest, size: config.length },
      layers: [...baseLayers, ...spec.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }))],
    }),
  );
  const digest = await target.putManifest(sha256Digest(manifest), manifest, MEDIA_TYPE.manifest);
  return { digest, size: manifest.length, mediaType: MEDIA_TYPE.manifest, platform: spec.platform };
}

/** Puts a tag on a pushed manifest (a single-platform image). */
export async function tagManifest(target: RegistryClient, tag: string, manifest: PushedManifest): Promise<void> {
  const bytes = await target.getManifest(manifest.digest, [manifest.mediaType]);
  await target.putManifest(tag, bytes.bytes, manifest.mediaType);
}

/** Tags an index of the given platform manifests; returns the index's digest. */
export async function pushIndex(
  target: RegistryClient,
  tag: string,
  manifests: PushedManifest[],
  annotations: Record<string, string> = {},
): Promise<string> {
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.index,
      manifests: manifests.map((m) => ({
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.size,
        platform: m.platform,
      })),
      ...(Object.keys(annotations).length ? { annotations } : {}),
    }),
  );
  return await target.putManifest(tag, index, MEDIA_TYPE.index);
}

/** Reads a base image for one platform from its registry (an index is resolved to that platform's manifest). */
export async function fetchBaseImage(
  source: RegistryClient,
  reference: string,
  platform: Platform,
): Promise<BaseImage> {
  let fetched = await source.getManifest(reference, ACCEPT);
  let doc = JSON.parse(fetched.bytes.toString('utf8')) as ManifestDoc;
  if (fetched.mediaType === MEDIA_TYPE.index || fetched.mediaType === DOCKER_LIST || doc.manifests) {
    const entry = (doc.manifests ?? []).find(
      (m) =>
        m.platform?.os === platform.os &&
        m.platform?.architecture === platform.architecture &&
        (platform.variant === undefined || m.platform?.variant === platform.variant),
    );
    if (!entry) {
      const offered = (doc.manifests ?? []).map(
        (m) => `${m.platform?.os}/${m.platform?.architecture}${m.platform?.variant ? `/${m.platform.variant}` : ''}`,
      );
      throw new Error(
        `base image ${reference} has no ${platform.os}/${platform.architecture} image (it has: ${offered.join(', ') || 'none'})`,
      );
    }
    fetched = await source.getManifest(entry.digest, ACCEPT);
    doc = JSON.parse(fetched.bytes.toString('utf8')) as ManifestDoc;
  }
  if (!doc.config || !doc.layers)
    throw new Error(`base image ${reference}: ${fetched.mediaType || 'its manifest'} is not an image manifest`);
  const configBytes = await readBody(await source.openBlob(doc.config.digest), CONFIG_LIMIT, `config of ${reference}`);
  if (sha256Digest(configBytes) !== doc.config.digest)
    throw new Error(`base image ${reference}: its config does not match digest ${doc.config.digest}`);
  const config = JSON.parse(configBytes.toString('utf8')) as {
    os?: string;
    architecture?: string;
    config?: RunConfig;
    rootfs?: { diff_ids?: string[] };
  };
  if (config.os !== platform.os || config.architecture !== platform.architecture) {
    throw new Error(
      `base image ${reference} is ${config.os}/${config.architecture}, not ${platform.os}/${platform.architecture}`,
    );
  }
  return {
    reference,
    platform,
    source,
    layers: doc.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    diffIds: config.rootfs?.diff_ids ?? [],
    run: config.config ?? {},
  };
}

interface ManifestDoc {
  manifests?: { digest: string; platform?: Platform }[];
  config?: { digest: string };
  layers?: LayerDescriptor[];
}

function mergeRun(base: RunConfig, over: RunConfig): RunConfig {
  const env = new Map<string, string>();
  for (const e of [...(base.Env ?? []), ...(over.Env ?? [])]) env.set(e.split('=')[0]!, e);
  const merged: RunConfig = { ...base, ...over };
  if (env.size) merged.Env = [...env.values()];
  // An entrypoint set here makes the base's default arguments meaningless.
  if (over.Entrypoint && !over.Cmd) delete merged.Cmd;
  return merged;
}

async function* bytesOf(buffer: Buffer): AsyncIterable<Buffer> {
  yield buffer;
}

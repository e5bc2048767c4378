import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { extract } from 'tar-stream';
import { BlobVerifier } from '../../../src/oci/blob-verifier.js';
import { CHECKPOINT_ANNOTATION, MEDIA_TYPE } from '../../../src/oci/checkpoint-image.js';
import { credentialsForRegistry, type RegistryCredentials } from '../../../src/oci/docker-config.js';
import { digestReference, hostname, isLoopbackHost, parseImageReference, type ImageReference } from '../../../src/oci/image-reference.js';
import { RegistryClient } from '../../../src/oci/registry-client.js';
import { RegistryError } from '../../../src/oci/registry-error.js';

export type PullOutcome =
  /** rootfsImage: the image the checkpointed container ran from, as the checkpoint records it. */
  | { ok: true; imageID: string; rootfsImage: string | undefined }
  | { ok: false; reason: 'ErrImagePull' | 'CreateContainerError'; message: string };

interface Descriptor { mediaType?: string; digest?: string; size?: number; platform?: { architecture?: string; os?: string } }
interface ImageJson { mediaType?: string; manifests?: Descriptor[]; layers?: Descriptor[]; annotations?: Record<string, string> }

const NAME_ANNOTATIONS = [CHECKPOINT_ANNOTATION.crioName, CHECKPOINT_ANNOTATION.containerName];
const SMALL_FILE_LIMIT = 1024 * 1024;

/**
 * Images a simulated node pulls as a restore-enabled runtime would: references by digest to a
 * registry on loopback or on the local cluster's network (198.18.0.0/15, the only registries a
 * test may reach). Everything else keeps the node's image rule.
 */
export function isCheckpointImageCandidate(image: string): boolean {
  try {
    const ref = parseImageReference(image);
    return ref.digest !== undefined && (isLoopbackHost(ref.host) || isClusterNetworkHost(ref.host));
  } catch {
    return false;
  }
}

function isClusterNetworkHost(host: string): boolean {
  return /^198\.(18|19)\.\d{1,3}\.\d{1,3}$/.test(hostname(host));
}

/**
 * Pulls and checks a checkpoint image as a runtime with checkpoint restore does before it
 * creates the container from it: the index and manifest match their digests and carry the
 * checkpoint annotations, the single layer matches its descriptor byte for byte, and it is a
 * checkpoint archive of the container the annotations name. Registry trouble is ErrImagePull;
 * an image that is not a sound checkpoint is CreateContainerError.
 */
export async function pullCheckpointImage(image: string, credentials: RegistryCredentials | undefined, nodeRoot?: string): Promise<PullOutcome> {
  const ref = parseImageReference(image);
  const ca = nodeRoot ? await trustedRegistryCa(nodeRoot, ref.host) : undefined;
  const client = new RegistryClient({
    // A registry without a certs.d directory is plain HTTP, as container engines treat registries listed as insecure.
    repository: `${ref.host}/${ref.path}`, actions: ['pull'], ...(credentials ? { credentials } : {}), ...(ca ? { ca } : { insecure: true }), connectTimeoutMs: 5000, idleTimeoutMs: 30_000,
  });
  try {
    const annotations = await checkImage(client, ref);
    return { ok: true, imageID: digestReference(ref, ref.digest!), rootfsImage: annotations[CHECKPOINT_ANNOTATION.rootfsImageName] };
  } catch (err) {
    if (err instanceof NotACheckpoint) return { ok: false, reason: 'CreateContainerError', message: `${image}: ${err.message}` };
    if (err instanceof RegistryError && (err.reason === 'ChecksumMismatch' || err.reason === 'SizeMismatch')) {
      return { ok: false, reason: 'CreateContainerError', message: `${image}: ${err.message}` };
    }
    return { ok: false, reason: 'ErrImagePull', message: `failed to pull image ${image}: ${(err as Error).message}` };
  } finally {
    client.close();
  }
}

/**
 * The CAs a node trusts for one registry, as containers-certs.d(5) lays them out: every `*.crt`
 * in `/etc/containers/certs.d/<host[:port]>/`. A registry with such a directory is spoken to
 * over HTTPS, verified against them; without one, a loopback registry is plain HTTP.
 */
export async function trustedRegistryCa(nodeRoot: string, host: string): Promise<Buffer | undefined> {
  const dir = join(nodeRoot, 'etc/containers/certs.d', host);
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.crt')).sort();
  if (files.length === 0) return undefined;
  return Buffer.concat(await Promise.all(files.map((f) => readFile(join(dir, f)))));
}

/** Registry credentials from the pod's imagePullSecrets; a missing Secret is skipped, as kubelets do. */
export async function pullSecretCredentials(admin: CoreV1Api, pod: V1Pod, image: string): Promise<RegistryCredentials | undefined> {
  const host = parseImageReference(image).host;
  for (const { name } of pod.spec?.imagePullSecrets ?? []) {
    if (!name) continue;
    const secret = await admin.readNamespacedSecret({ name, namespace: pod.metadata!.namespace! }).catch(() => undefined);
    const data = secret?.data?.['.dockerconfigjson'] ?? secret?.data?.['.dockercfg'];
    if (!data) continue;
    const found = credentialsForRegistry(Buffer.from(data, 'base64'), host);
    if (found) return found;
  }
  return undefined;
}

class NotACheckpoint extends Error {}

async function checkImage(client: RegistryClient, ref: ImageReference): Promise<Record<string, string>> {
  const top = await client.getManifest(ref.digest!, [MEDIA_TYPE.index, MEDIA_TYPE.manifest]);
  let doc = parse(top.bytes);
  let names = checkpointNames(doc, 'index');
  if ((doc.mediaType ?? top.mediaType) === MEDIA_TYPE.index) {
    const entries = doc.manifests ?? [];
    const chosen = entries.length === 1 ? entries[0] : entries.find((m) => m.platform?.os === 'linux' && m.platform?.architecture === 'amd64');
    if (!chosen?.digest) throw new NotACheckpoint('the index has no manifest for linux/amd64');
    const manifest = await client.getManifest(chosen.digest, [MEDIA_TYPE.manifest]);
    doc = parse(manifest.bytes);
    const inManifest = checkpointNames(doc, 'manifest');
    if (inManifest.some((n) => !names.includes(n))) throw new NotACheckpoint('the manifest and the index name different containers');
    names = inManifest;
  }
  const layers = doc.layers ?? [];
  if (layers.length !== 1) throw new NotACheckpoint(`a checkpoint image has exactly one layer, this one has ${layers.length}`);
  const layer = layers[0]!;
  if (typeof layer.digest !== 'string' || typeof layer.size !== 'number') throw new NotACheckpoint('the layer descriptor has no digest or size');
  const archived = await readLayer(client, { digest: layer.digest, size: layer.size });
  if (!names.includes(archived)) throw new NotACheckpoint(`the layer is a checkpoint of container ${archived}, the image names ${names.join(', ')}`);
  return doc.annotations ?? {};
}

function parse(bytes: Buffer): ImageJson {
  try {
    return JSON.parse(bytes.toString('utf8')) as ImageJson;
  } catch {
    throw new NotACheckpoint('the manifest is not JSON');
  }
}

function checkpointNames(doc: ImageJson, what: string): string[] {
  const names = NAME_ANNOTATIONS.map((a) => doc.annotations?.[a]).filter((v): v is string => typeof v === 'string' && v.length > 0);
  if (names.length === 0) throw new NotACheckpoint(`the ${what} has no checkpoint annotation (${NAME_ANNOTATIONS.join(' or ')}): not a checkpoint image`);
  if (new Set(names).size > 1) throw new NotACheckpoint(`the ${what}'s checkpoint annotations disagree: ${names.join(', ')}`);
  return names;
}

/** Streams the layer, verifying it against its descriptor; returns the container name its archive holds. */
async function readLayer(client: RegistryClient, expected: { digest: string; size: number }): Promise<string> {
  const verifier = new BlobVerifier(expected);
  const tar = extract();
  const files = new Map<string, Buffer>();
  let tarError: Error | undefined;
  tar.on('entry', (header, stream, next) => {
    const name = header.name.replace(/^\.\//, '');
    if ((name === 'config.dump' || name === 'spec.dump') && (header.size ?? 0) <= SMALL_FILE_LIMIT) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => { files.set(name, Buffer.concat(chunks)); next(); });
    } else {
      stream.on('end', next);
      stream.resume();
    }
  });
  const finished = new Promise<void>((resolve) => {
    tar.on('finish', resolve);
    tar.on('error', (err: Error) => { tarError = err; resolve(); });
  });
  const body = await client.openBlob(expected.digest);
  for await (const chunk of body) {
    verifier.update(chunk as Buffer);
    // A layer that is not a tar is still read to its end: its digest is checked either way.
    if (!tarError && !tar.write(chunk as Buffer)) await parserDrained(tar);
  }
  verifier.verify();
  if (!tarError) (tar as unknown as { end(): void }).end();
  await finished;
  if (tarError) throw new NotACheckpoint(`the layer is not a tar archive: ${tarError.message}`);
  const json = (name: string) => {
    const buf = files.get(name);
    if (!buf) throw new NotACheckpoint(`the layer has no ${name}: not a checkpoint archive`);
    try {
      return JSON.parse(buf.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new NotACheckpoint(`${name} in the layer is not JSON`);
    }
  };
  const config = json('config.dump');
  const spec = json('spec.dump');
  const fromSpec = (spec.annotations as Record<string, unknown> | undefined)?.['io.kubernetes.container.name'];
  const name = typeof fromSpec === 'string' && fromSpec ? fromSpec : config.name;
  if (typeof name !== 'string' || !name) throw new NotACheckpoint('the checkpoint archive names no container');
  return name;
}

/** Resolves when the tar parser takes more, or has failed (then it never drains). */
function parserDrained(tar: ReturnType<typeof extract>): Promise<void> {
  return new Promise((resolve) => {
    const release = () => {
      tar.off('drain', release);
      tar.off('error', release);
      resolve();
    };
    tar.on('drain', release);
    tar.on('error', release);
  });
}

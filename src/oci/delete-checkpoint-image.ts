import { MEDIA_TYPE } from './checkpoint-image.js';
import type { RegistryClient } from './registry-client.js';
import { RegistryError } from './registry-error.js';

interface Descriptor {
  digest?: unknown;
}
interface ImageJson {
  mediaType?: unknown;
  manifests?: Descriptor[];
  layers?: Descriptor[];
}

/**
 * Deletes a checkpoint image this operator pushed, by the digest of its index: the archive layer
 * (unlinked from the repository; the registry frees its bytes when it collects garbage), each
 * manifest, then the index, which takes its tag with it. The parts go before the index, so a run
 * cut short is finished by the next. 'gone' when the registry no longer has the index.
 */
export async function deleteCheckpointImage(client: RegistryClient, digest: string): Promise<'deleted' | 'gone'> {
  const index = await fetchImage(client, digest);
  if (!index) return 'gone';
  const manifests = index.mediaType === MEDIA_TYPE.index ? digestsOf(index.manifests) : [];
  for (const manifestDigest of manifests) {
    const manifest = await fetchImage(client, manifestDigest);
    // The layer is the archive, unique to one Checkpoint; the config is left, as other images may share it.
    for (const layer of digestsOf(manifest?.layers)) await client.deleteBlob(layer);
    if (manifest) await client.deleteManifest(manifestDigest);
  }
  for (const layer of index.mediaType === MEDIA_TYPE.manifest ? digestsOf(index.layers) : [])
    await client.deleteBlob(layer);
  await client.deleteManifest(digest);
  return 'deleted';
}

async function fetchImage(client: RegistryClient, digest: string): Promise<ImageJson | undefined> {
  try {
    const fetched = await client.getManifest(digest, [MEDIA_TYPE.index, MEDIA_TYPE.manifest]);
    return JSON.parse(fetched.bytes.toString('utf8')) as ImageJson;
  } catch (err) {
    if (err instanceof RegistryError && err.details.status === 404) return undefined;
    throw err;
  }
}

function digestsOf(descriptors: Descriptor[] | undefined): string[] {
  return (descriptors ?? [])
    .map((d) => d.digest)
    .filter((d): d is string => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d));
}

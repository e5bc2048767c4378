import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCheckpointArchive } from '../../fixtures/checkpoint-archive.js';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** A raw, anonymous GET on a registry's API: what any client would receive, digest computed here. */
export async function registryGet(
  host: string,
  path: string,
  accept = '*/*',
): Promise<{ status: number; body: Buffer; digest: string }> {
  const res = await fetch(`http://${host}/v2/${path}`, { headers: { accept } });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, body, digest: `sha256:${createHash('sha256').update(body).digest('hex')}` };
}

export async function registryHead(host: string, path: string): Promise<number> {
  return (await fetch(`http://${host}/v2/${path}`, { method: 'HEAD' })).status;
}

export interface GeneratedArchive {
  path: string;
  fileName: string;
  sizeBytes: number;
  sha256: string;
  createdAt: string;
  open(): ReturnType<typeof createReadStream>;
}

/** A CRI-O-shaped checkpoint archive of one container, in a fresh temporary directory. */
export async function generatedArchive(containerName: string, memoryBytes = 1024 * 1024): Promise<GeneratedArchive> {
  const dir = await mkdtemp(join(tmpdir(), 'oci-e2e-'));
  const checkpointedAt = new Date('2026-11-25T03:00:00.000Z');
  const fileName = `checkpoint-web-0_team-a-${containerName}-2026-11-25T03:00:00Z.tar`;
  const path = join(dir, fileName);
  const written = await writeCheckpointArchive(path, {
    podName: 'web-0',
    namespace: 'team-a',
    podUid: '11111111-2222-3333-4444-555555555555',
    containerName,
    containerId: 'c0ffee'.repeat(10),
    image: 'registry.example.com/sample-app:1.0',
    imageRef: `sha256:${'1'.repeat(64)}`,
    memoryBytes,
    createdAt: new Date('2026-11-25T02:00:00.000Z'),
    checkpointedAt,
  });
  return { path, fileName, ...written, createdAt: checkpointedAt.toISOString(), open: () => createReadStream(path) };
}

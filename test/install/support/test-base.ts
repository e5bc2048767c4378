import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pushNodeBase } from '../../../image/node-base.js';
import { type Platform, type PushedManifest, pushIndex } from '../../../image/oci-image.js';
import { RegistryClient } from '../../../src/oci/registry-client.js';
import { cacheDir } from '../../cluster/binaries.js';

const root = join(import.meta.dirname, '../../..');
export const AMD64: Platform = { os: 'linux', architecture: 'amd64' };
export const ARM64: Platform = { os: 'linux', architecture: 'arm64' };

/**
 * Where the arm64 Node.js and its libraries are (test/cluster/build/fetch-arm64-node.sh, run by
 * build-binaries.sh): Node.js at the version the project carries.
 */
export async function arm64Rootfs(): Promise<string> {
  const { version } = JSON.parse(await readFile(join(root, 'node_modules/node/package.json'), 'utf8')) as {
    version: string;
  };
  return join(cacheDir(), `arm64-node-${version}`, 'rootfs');
}

/**
 * Pushes a Node.js base image to `<registryHost>/<repository>:<tag>` for the platforms asked:
 * amd64 made from the project's Node.js and this machine's libraries, arm64 from the fetched
 * arm64 root filesystem. The image tests build on it as a user builds on node:26-alpine.
 */
export async function pushTestBase(opts: {
  registryHost: string;
  repository: string;
  tag: string;
  platforms: Platform[];
}): Promise<{ digest: string; manifests: PushedManifest[] }> {
  const client = new RegistryClient({ repository: `${opts.registryHost}/${opts.repository}`, insecure: true });
  try {
    const manifests: PushedManifest[] = [];
    for (const platform of opts.platforms) {
      const source =
        platform.architecture === 'amd64'
          ? { nodeBinary: join(root, 'node_modules/node/bin/node') }
          : { rootfs: await arm64Rootfs() };
      manifests.push(await pushNodeBase({ target: client, source, cacheDir: join(cacheDir(), 'images'), platform }));
    }
    return { digest: await pushIndex(client, opts.tag, manifests), manifests };
  } finally {
    client.close();
  }
}

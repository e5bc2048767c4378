import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { pinnedVersions } from '../binaries.js';
import type { ControlPlane } from '../control-plane.js';
import { CLUSTER_IMAGES } from '../images/cluster-images.js';

const run = promisify(execFile);
const MODULE = 'github.com/rancher/local-path-provisioner';

/** Where volumes live on each node: under the node's /var, so they are in the node's directory. */
export const LOCAL_PATH_ROOT = '/var/local-path-provisioner';

/**
 * Installs rancher's local-path-provisioner from its own manifest (deploy/local-path-storage.yaml
 * of the pinned module version, read from the Go module cache) as kind and k3s ship it: a
 * Deployment with its RBAC, and the StorageClass `local-path` in WaitForFirstConsumer mode,
 * marked the cluster's default. Two values are changed: the image (the one pushed to the
 * cluster's registry) and the directory volumes are made in on the nodes.
 */
export async function installLocalPathStorage(cp: ControlPlane): Promise<void> {
  const version = (await pinnedVersions()).localPathProvisioner;
  const { stdout } = await run('go', ['mod', 'download', '-json', `${MODULE}@${version}`], {
    env: { ...process.env, GOFLAGS: '-mod=mod', PATH: `/usr/local/go/bin:${process.env.PATH}` },
  });
  const dir = (JSON.parse(stdout) as { Dir: string }).Dir;
  const docs = parseAllDocuments(await readFile(join(dir, 'deploy/local-path-storage.yaml'), 'utf8'));
  for (const doc of docs) {
    const kind = doc.getIn(['kind']);
    if (kind === 'Deployment')
      doc.setIn(['spec', 'template', 'spec', 'containers', 0, 'image'], CLUSTER_IMAGES.localPathProvisioner);
    if (kind === 'StorageClass')
      doc.setIn(['metadata', 'annotations'], { 'storageclass.kubernetes.io/is-default-class': 'true' });
    if (kind === 'ConfigMap') {
      doc.setIn(
        ['data', 'config.json'],
        JSON.stringify(
          { nodePathMap: [{ node: 'DEFAULT_PATH_FOR_NON_LISTED_NODES', paths: [LOCAL_PATH_ROOT] }] },
          null,
          2,
        ),
      );
    }
  }
  await cp.kubectl(['apply', '-f', '-'], { input: docs.map((d) => d.toString()).join('---\n') });
  await cp.kubectl([
    'rollout',
    'status',
    '-n',
    'local-path-storage',
    'deployment/local-path-provisioner',
    '--timeout=120s',
  ]);
}

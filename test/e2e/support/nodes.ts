import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { registryHostToml } from '../../cluster/node/node-config.js';
import { clusterContext } from './cluster-context.js';
import { kubectl } from './kube.js';
import { NODE_PROFILES } from '../../cluster/node/real-nodes.js';

/**
 * The node workloads go to unless a test says otherwise: the one whose kubelet serving
 * certificate the cluster CA signed and whose containerd restores checkpoint images, so the
 * operator's default configuration checkpoints and restores there (see NODE_PROFILES).
 */
export const CHECKPOINT_NODE = NODE_PROFILES[0].name;

/** A node as kubeadm and kind make them: a self-signed kubelet certificate, restore off. */
export const DEFAULT_NODE = NODE_PROFILES[1].name;

/**
 * Makes every node's containerd trust one more registry, as an administrator does: its
 * certs.d/<host>/hosts.toml (containerd reads it on every pull), plain HTTP or HTTPS verified
 * against a CA. Returns the undo.
 */
export async function trustRegistryOnNodes(host: string, how: { plainHttp: true } | { ca: string }): Promise<() => Promise<void>> {
  const dirs = NODE_PROFILES.map((n) => join(clusterContext().clusterDir, 'nodes', n.name, 'etc/containerd/certs.d', host));
  for (const dir of dirs) {
    await mkdir(dir, { recursive: true });
    if ('ca' in how) await writeFile(join(dir, 'ca.crt'), how.ca);
    await writeFile(join(dir, 'hosts.toml'), registryHostToml(host, 'ca' in how ? { caFile: join(dir, 'ca.crt') } : how));
  }
  return async () => { for (const dir of dirs) await rm(dir, { recursive: true, force: true }); };
}

/** Where a node's file system is on this machine: each node's / is its own directory. */
export const nodeRoot = (node: string): string => join(clusterContext().clusterDir, 'nodes', node);

/**
 * The directory of a bound claim's volume on this machine. local-path volumes are host paths on
 * the node the volume's node affinity names.
 */
export async function claimDirectory(namespace: string, claim: string): Promise<string> {
  const pvc = JSON.parse(await kubectl(['get', 'pvc', claim, '-n', namespace, '-o', 'json']));
  const pv = JSON.parse(await kubectl(['get', 'pv', pvc.spec.volumeName, '-o', 'json']));
  const node = pv.spec.nodeAffinity?.required?.nodeSelectorTerms?.[0]?.matchExpressions?.[0]?.values?.[0];
  const path = pv.spec.hostPath?.path ?? pv.spec.local?.path;
  if (!node || !path) throw new Error(`volume ${pv.metadata.name} names no node and path`);
  return join(nodeRoot(node), path);
}

import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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
 * The third node the e2e cluster starts, made as CHECKPOINT_NODE is: a second node that both
 * checkpoints and restores with the defaults, for archives that live on another node than the
 * pod restored from them.
 */
export const OTHER_CHECKPOINT_NODE = 'node-c';

/**
 * Makes every node's containerd trust one more registry, as an administrator does: its
 * certs.d/<host>/hosts.toml (containerd reads it on every pull), plain HTTP or HTTPS verified
 * against a CA. Returns the undo.
 */
export async function trustRegistryOnNodes(
  host: string,
  how: { plainHttp: true } | { ca: string },
): Promise<() => Promise<void>> {
  // Every node the cluster started (the e2e cluster has one more than NODE_PROFILES names).
  const nodesDir = join(clusterContext().clusterDir, 'nodes');
  const dirs = (await readdir(nodesDir)).map((node) => join(nodesDir, node, 'etc/containerd/certs.d', host));
  for (const dir of dirs) {
    await mkdir(dir, { recursive: true });
    if ('ca' in how) await writeFile(join(dir, 'ca.crt'), how.ca);
    await writeFile(
      join(dir, 'hosts.toml'),
      registryHostToml(host, 'ca' in how ? { caFile: join(dir, 'ca.crt') } : how),
    );
  }
  return async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  };
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

/**
 * The containerd shim serving a running container: the parent of the container's first process,
 * found by the container's cgroup (its path ends in the container's ID). Stopping it leaves the
 * container running and its pod untouched, while every runtime request for it (a checkpoint
 * among them) waits.
 */
export async function runtimeShimOf(namespace: string, pod: string, container?: string): Promise<number> {
  const view = JSON.parse(await kubectl(['get', 'pod', pod, '-n', namespace, '-o', 'json'])) as {
    status?: { containerStatuses?: { name: string; containerID?: string }[] };
  };
  const statuses = view.status?.containerStatuses ?? [];
  const id = (container ? statuses.find((c) => c.name === container) : statuses[0])?.containerID?.replace(
    /^\w+:\/\//,
    '',
  );
  if (!id) throw new Error(`pod ${namespace}/${pod} has no running container${container ? ` ${container}` : ''}`);
  const members: { pid: number; ppid: number }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cgroup = await readFile(`/proc/${entry}/cgroup`, 'utf8').catch(() => '');
    if (!cgroup.split('\n').some((line) => line.endsWith(`/${id}`))) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid …: comm may hold spaces, so read after its closing parenthesis.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    members.push({ pid: Number(entry), ppid });
  }
  const inside = new Set(members.map((m) => m.pid));
  const first = members.find((m) => !inside.has(m.ppid));
  if (!first) throw new Error(`no process of container ${id} found on this machine`);
  return first.ppid;
}

import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { namespacedHost, type ServerHost } from './server-host.js';

const run = promisify(execFile);

/**
 * The local cluster's network, made only of network namespaces this process creates:
 *
 *   this machine            cluster namespace                          node namespaces
 *   <root veth> .1  ──────  bridge, .2: every server of the cluster ──── eth0, .10 + i (kubelet)
 *
 * One /24 from 198.18.0.0/15 (RFC 2544, set aside for testing) per cluster. The API server, etcd,
 * MinIO, the registry, the Pushgateway and the trace receiver listen at the cluster host's address
 * (.2) inside the cluster namespace; nodes and their pods reach it through the bridge, and this
 * machine through its one veth, so no byte of cluster traffic passes through a test process.
 * This machine's namespace gains one veth end with one address, and nothing else: no route, no
 * sysctl, no firewall rule. The cluster namespace forwards nothing: it is the end of every path.
 * Names carry our pid so concurrent runs never collide, and so leftovers of dead runs are found.
 */
export interface ClusterNetwork {
  /** The servers' host: the cluster namespace and its bridge address. */
  host: ServerHost;
  /** This machine's address on the cluster's network (the root end of the veth). */
  rootIP: string;
  /** The cluster's /24, as `198.18.x.0/24`. */
  subnet: string;
  /**
   * Gives node `index` a namespace of its own on the bridge. With podCIDR, that node's pods are
   * routed to it from the cluster host and from every other node (as kindnet routes pod CIDRs).
   */
  attachNode(index: number, podCIDR?: string): Promise<NodeAttachment>;
  destroy(): Promise<void>;
}

export interface NodeAttachment {
  /** The node's address, inside its own network namespace. */
  nodeIP: string;
  netns: string;
  /** The cluster host's address: the node's default gateway. */
  gateway: string;
  podCIDR: string | undefined;
  destroy(): Promise<void>;
}

const NAME = /^cpo(\d+)k\d+/;
const live = new Set<string>();
let hookInstalled = false;
let clusters = 0;

export async function createClusterNetwork(): Promise<ClusterNetwork> {
  installExitHook();
  await reapStaleNetworks();
  const id = `cpo${process.pid}k${clusters++}`;
  const netns = `${id}c`;
  const block = await freeBlock();
  const prefix = `198.${18 + (block >> 8)}.${block & 255}`;
  const rootIP = `${prefix}.1`;
  const hostIP = `${prefix}.2`;
  await run('ip', ['netns', 'add', netns]);
  live.add(netns);
  const nodes: NodeAttachment[] = [];
  const inNs = (...args: string[]) => run('ip', ['-n', netns, ...args]);
  try {
    await inNs('link', 'set', 'lo', 'up');
    await inNs('link', 'add', 'br0', 'type', 'bridge');
    // A bridge takes the lowest MAC address of its ports unless given one: each node attached
    // later could change it, and every neighbour holding the old one (this machine's ARP cache
    // among them) would send into the void for seconds. A fixed address never changes.
    await inNs('link', 'set', 'br0', 'address', bridgeMac(block));
    await inNs('addr', 'add', `${hostIP}/24`, 'dev', 'br0');
    await inNs('link', 'set', 'br0', 'up');
    // This machine's end: named after the cluster, its peer enslaved to the bridge.
    await run('ip', ['link', 'add', `${id}r`, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', netns]);
    await inNs('link', 'set', 'uplink', 'master', 'br0', 'up');
    await run('ip', ['addr', 'add', `${rootIP}/24`, 'dev', `${id}r`]);
    await run('ip', ['link', 'set', `${id}r`, 'up']);
  } catch (err) {
    await deleteNetns(netns);
    throw err;
  }
  return {
    host: namespacedHost(netns, hostIP),
    rootIP,
    subnet: `${prefix}.0/24`,
    async attachNode(index, podCIDR) {
      const nodeNs = `${id}n${index}`;
      const nodeIP = `${prefix}.${10 + index}`;
      await run('ip', ['netns', 'add', nodeNs]);
      live.add(nodeNs);
      try {
        await run('ip', [
          '-n',
          nodeNs,
          'link',
          'add',
          'eth0',
          'type',
          'veth',
          'peer',
          'name',
          `node${index}`,
          'netns',
          netns,
        ]);
        await inNs('link', 'set', `node${index}`, 'master', 'br0', 'up');
        await run('ip', ['-n', nodeNs, 'addr', 'add', `${nodeIP}/24`, 'dev', 'eth0']);
        await run('ip', ['-n', nodeNs, 'link', 'set', 'eth0', 'up']);
        await run('ip', ['-n', nodeNs, 'link', 'set', 'lo', 'up']);
        await run('ip', ['-n', nodeNs, 'route', 'add', 'default', 'via', hostIP]);
        for (const other of nodes) {
          if (other.podCIDR) await run('ip', ['-n', nodeNs, 'route', 'add', other.podCIDR, 'via', other.nodeIP]);
          if (podCIDR) await run('ip', ['-n', other.netns, 'route', 'add', podCIDR, 'via', nodeIP]);
        }
        if (podCIDR) await inNs('route', 'add', podCIDR, 'via', nodeIP);
      } catch (err) {
        await deleteNetns(nodeNs);
        throw err;
      }
      const node = { nodeIP, netns: nodeNs, gateway: hostIP, podCIDR, destroy: () => deleteNetns(nodeNs) };
      nodes.push(node);
      return node;
    },
    async destroy() {
      for (const n of nodes) await n.destroy();
      // Deleting the namespace deletes the veth ends inside it, and with them their peers.
      await deleteNetns(netns);
    },
  };
}

/** A locally administered unicast address, one per cluster block: 02:c6:12:<block>:02. */
function bridgeMac(block: number): string {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return `02:c6:12:${hex(block >> 8)}:${hex(block & 255)}:02`;
}

async function deleteNetns(netns: string): Promise<void> {
  live.delete(netns);
  await run('ip', ['netns', 'del', netns]).catch(() => undefined);
}

/** Picks a /24 in 198.18.0.0/15 that no interface of this machine has an address in. */
async function freeBlock(): Promise<number> {
  const { stdout } = await run('ip', ['-j', 'addr']);
  const used = new Set<number>();
  for (const link of JSON.parse(stdout) as { addr_info?: { local: string }[] }[]) {
    for (const a of link.addr_info ?? []) {
      const m = /^198\.(18|19)\.(\d+)\.\d+$/.exec(a.local);
      if (m) used.add(((Number(m[1]) - 18) << 8) | Number(m[2]));
    }
  }
  const start = (process.pid * 7 + clusters) % 512;
  for (let i = 0; i < 512; i++) {
    const candidate = (start + i) % 512;
    if (!used.has(candidate)) return candidate;
  }
  throw new Error('no free /24 left in 198.18.0.0/15');
}

async function reapStaleNetworks(): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'list']);
  for (const line of stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = NAME.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      await run('ip', ['netns', 'del', name]).catch(() => undefined);
    }
  }
}

function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on('exit', () => {
    for (const netns of live) {
      try {
        execFileSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  });
}

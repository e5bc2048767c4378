import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface NodeNetwork {
  /** The node's address, inside its own network namespace. */
  nodeIP: string;
  netns: string;
  destroy(): Promise<void>;
}

/*
 * Simulated nodes need real, non-loopback addresses: the API server refuses to proxy to loopback,
 * and the operator's Jobs dial the node's kubelet at status.hostIP. Each node gets a network
 * namespace of its own with one end of a veth pair, addressed from 198.18.0.0/15 (RFC 2544, set
 * aside for testing); the other end stays in the root namespace so this machine can reach it.
 * Names carry our pid so concurrent runs never collide, and so leftovers of dead runs are found.
 */
const NAME = /^cpo(\d+)n(\d+)$/;
const live = new Set<string>();
let hookInstalled = false;

export async function createNodeNetwork(index: number): Promise<NodeNetwork> {
  installExitHook();
  await reapStaleNetworks();
  const netns = `cpo${process.pid}n${index}`;
  const hostIf = `cpo${process.pid}h${index}`;
  const peerIf = `cpo${process.pid}p${index}`;
  const base = await freeSubnet();
  const hostIP = `198.${18 + (base >> 16)}.${(base >> 8) & 255}.${(base & 255) + 1}`;
  const nodeIP = `198.${18 + (base >> 16)}.${(base >> 8) & 255}.${(base & 255) + 2}`;
  await run('ip', ['netns', 'add', netns]);
  live.add(netns);
  try {
    await run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peerIf]);
    await run('ip', ['link', 'set', peerIf, 'netns', netns]);
    await run('ip', ['-n', netns, 'link', 'set', peerIf, 'name', 'eth0']);
    await run('ip', ['addr', 'add', `${hostIP}/30`, 'dev', hostIf]);
    await run('ip', ['link', 'set', hostIf, 'up']);
    await run('ip', ['-n', netns, 'addr', 'add', `${nodeIP}/30`, 'dev', 'eth0']);
    await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  } catch (err) {
    await deleteNetns(netns);
    throw err;
  }
  return { nodeIP, netns, destroy: () => deleteNetns(netns) };
}

async function deleteNetns(netns: string): Promise<void> {
  live.delete(netns);
  // Deleting the namespace deletes the veth end inside it, and with it the root-side end.
  await run('ip', ['netns', 'del', netns]).catch(() => undefined);
}

/** Picks a /30 in 198.18.0.0/15 that no interface on this machine uses. */
async function freeSubnet(): Promise<number> {
  const { stdout } = await run('ip', ['-j', 'addr']);
  const used = new Set<number>();
  for (const link of JSON.parse(stdout) as { addr_info?: { local: string }[] }[]) {
    for (const a of link.addr_info ?? []) {
      const m = /^198\.(18|19)\.(\d+)\.(\d+)$/.exec(a.local);
      if (m) used.add(((Number(m[1]) - 18) << 16) | (Number(m[2]) << 8) | (Number(m[3]) & ~3));
    }
  }
  const start = (process.pid * 4 * 7) % (1 << 17);
  for (let i = 0; i < 1 << 15; i++) {
    const candidate = ((start + i * 4) % (1 << 17)) & ~3;
    if (!used.has(candidate)) return candidate;
  }
  throw new Error('no free /30 left in 198.18.0.0/15');
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

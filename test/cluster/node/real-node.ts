import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, readlink, rmdir, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Binaries } from '../binaries.js';
import type { ControlPlane } from '../control-plane.js';
import { writeKubeconfig } from '../kubeconfig.js';
import type { NodeAttachment } from '../network/cluster-network.js';
import { issueClientCert } from '../pki.js';
import { type ManagedProcess, startProcess } from '../processes.js';
import {
  cniConfig,
  containerdConfig,
  kubeletConfig,
  kubeProxyConfig,
  type NodeSettings,
  registryHosts,
  registryHostToml,
} from './node-config.js';

const run = promisify(execFile);

/**
 * The sysctls the kubelet wants (pkg/kubelet/cm: setupKernelTunables). It sets those that
 * differ, machine-wide; in the node's mount namespace files holding the wanted values are
 * mounted over them instead, so the kubelet finds them as it wants and the machine is untouched.
 */
const KUBELET_SYSCTLS: Record<string, string> = {
  'vm/overcommit_memory': '1',
  'vm/panic_on_oom': '0',
  'kernel/panic': '10',
  'kernel/panic_on_oops': '1',
  'kernel/keys/root_maxkeys': '1000000',
  'kernel/keys/root_maxbytes': '25000000',
};

export interface RealNodeOptions {
  name: string;
  controlPlane: ControlPlane;
  attachment: NodeAttachment;
  binaries: Binaries;
  registryHost: string;
  podCIDR: string;
  clusterCIDR: string;
  restoreViaCreate: boolean;
  servingCertificate: NodeSettings['servingCertificate'];
  sandboxImage: string;
}

export interface RealNode {
  name: string;
  ip: string;
  /** The node's directory on this machine: `<root>/var` is its /var (kubelet, containerd, pod logs, hostPath volumes). */
  root: string;
  netns: string;
  restoreViaCreate: boolean;
  servingCertificate: NodeSettings['servingCertificate'];
  containerd(): ManagedProcess;
  kubelet(): ManagedProcess;
  kubeProxy(): ManagedProcess;
  /**
   * Stops the kubelet (SIGTERM, then SIGKILL) and starts it again after downMs, or once
   * `whileDown` has settled (started again even if it throws): pods keep running meanwhile, as on
   * a real node.
   */
  restartKubelet(downMsOrWhileDown?: number | (() => Promise<void>)): Promise<void>;
  /** Stops containerd and starts it again: running containers stay (their shims live on). */
  restartContainerd(downMs?: number): Promise<void>;
  /**
   * Configures containerd for one more registry, as an administrator does in certs.d (read on
   * every pull): plain HTTP, or HTTPS verified against a CA (PEM).
   */
  trustRegistry(host: string, how: { plainHttp: true } | { ca: string }): Promise<void>;
  /** The host pid of a running container's main process (its containerd task), or undefined. */
  containerPid(containerId: string): Promise<number | undefined>;
  /** Runs a program in the node's namespaces (network and mounts), e.g. ctr or nft. */
  exec(argv: string[], opts?: { input?: string }): Promise<{ stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/**
 * One real node: containerd (with runc and CRIU) and the kubelet, plus kube-proxy, in the node's
 * network namespace and a mount namespace of their own. In that mount namespace the node's
 * directory is its /var, a tmpfs is its /run, /sys shows the node's network, and the sysctls
 * the kubelet checks read as it wants them; everything else (binaries, /etc, /tmp, cgroups) is
 * this machine's. A mount-namespace holder (`sleep`) keeps that namespace while the node's
 * programs are stopped and started, as a fault test does.
 */
export async function startRealNode(o: RealNodeOptions): Promise<RealNode> {
  const cp = o.controlPlane;
  const root = join(cp.dir, 'nodes', o.name);
  const logs = join(root, 'logs');
  for (const d of [
    'var/lib/kubelet',
    'var/lib/containerd',
    'var/log',
    'sysctl',
    'cgroup-bind',
    'etc/cni/net.d',
    'etc/containerd/certs.d',
    'etc/kubernetes',
  ]) {
    await mkdir(join(root, d), { recursive: true, mode: 0o755 });
  }
  await mkdir(logs, { recursive: true, mode: 0o700 });
  await symlink('/run', join(root, 'var/run')).catch(() => undefined);
  await symlink('/run/lock', join(root, 'var/lock')).catch(() => undefined);

  const identity = await issueClientCert(cp.pki, `kubelet-${o.name}`, {
    cn: `system:node:${o.name}`,
    groups: ['system:nodes'],
  });
  const proxyIdentity = await issueClientCert(cp.pki, `kube-proxy-${o.name}`, { cn: 'system:kube-proxy' });
  const settings: NodeSettings = {
    name: o.name,
    ip: o.attachment.nodeIP,
    podCIDR: o.podCIDR,
    clusterCIDR: o.clusterCIDR,
    root,
    runc: o.binaries.runc,
    restoreViaCreate: o.restoreViaCreate,
    cgroupRoot: `/checkpoint-cluster-${process.pid}-${o.name}`,
    servingCertificate: o.servingCertificate,
    caFile: cp.pki.caCert,
    kubeletKubeconfig: await writeKubeconfig(
      join(root, 'etc/kubernetes/kubelet.kubeconfig'),
      cp.server,
      cp.pki.caCert,
      identity,
      `system:node:${o.name}`,
    ),
    kubeProxyKubeconfig: await writeKubeconfig(
      join(root, 'etc/kubernetes/kube-proxy.kubeconfig'),
      cp.server,
      cp.pki.caCert,
      proxyIdentity,
      'system:kube-proxy',
    ),
    sandboxImage: o.sandboxImage,
  };
  const files = {
    containerd: join(root, 'etc/containerd/config.toml'),
    kubelet: join(root, 'etc/kubernetes/kubelet.yaml'),
    kubeProxy: join(root, 'etc/kubernetes/kube-proxy.yaml'),
  };
  await writeFile(files.containerd, containerdConfig(settings));
  const trustRegistry = async (host: string, toml: string) => {
    const dir = join(root, 'etc/containerd/certs.d', host);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'hosts.toml'), toml);
  };
  for (const [host, toml] of Object.entries(registryHosts(o.registryHost))) await trustRegistry(host, toml);
  await writeFile(join(root, 'etc/cni/net.d/10-local-cluster.conflist'), cniConfig(settings));
  await writeFile(files.kubelet, kubeletConfig(settings));
  await writeFile(files.kubeProxy, kubeProxyConfig(settings));
  for (const [key, value] of Object.entries(KUBELET_SYSCTLS))
    await writeFile(join(root, 'sysctl', key.replace(/\//g, '.')), `${value}\n`);

  const holder = startProcess(logs, 'mount-namespace', 'nsenter', [
    `--net=/run/netns/${o.attachment.netns}`,
    '--',
    'unshare',
    '--mount',
    '--propagation',
    'private',
    '--',
    '/bin/sh',
    '-c',
    mountScript(root),
    'node-mounts',
  ]);
  await waitForMounts(holder, root);
  const mountNamespace = await readlink(`/proc/${holder.pid}/ns/mnt`);
  // Every program of the node: in its network and mount namespaces, with the node's tools first on the PATH.
  const path = [
    dirname(o.binaries.containerd),
    dirname(o.binaries.runc),
    dirname(o.binaries.criu),
    '/usr/local/sbin',
    '/usr/local/bin',
    '/usr/sbin',
    '/usr/bin',
    '/sbin',
    '/bin',
  ].join(':');
  const env = { PATH: path, HOME: '/root', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}) };
  const inNode = (name: string, argv: string[]) =>
    startProcess(logs, name, 'nsenter', [`--target=${holder.pid}`, '--mount', '--net', '--', ...argv], env);

  const startContainerd = () =>
    inNode('containerd', [o.binaries.containerd, '--config', files.containerd, '--log-level', 'info']);
  const startKubelet = () =>
    inNode('kubelet', [
      o.binaries.kubelet,
      '--config',
      files.kubelet,
      '--kubeconfig',
      settings.kubeletKubeconfig,
      '--node-ip',
      settings.ip,
      '--hostname-override',
      o.name,
      '--v',
      '1',
    ]);
  const startKubeProxy = () => inNode('kube-proxy', [o.binaries.kubeProxy, '--config', files.kubeProxy, '--v', '1']);
  const procs = {
    containerd: startContainerd(),
    kubelet: undefined as ManagedProcess | undefined,
    kubeProxy: undefined as ManagedProcess | undefined,
  };
  const exec = async (argv: string[], opts: { input?: string } = {}) => {
    const child = run('nsenter', [`--target=${holder.pid}`, '--mount', '--net', '--', ...argv], {
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
    if (opts.input !== undefined) child.child.stdin!.end(opts.input);
    return await child;
  };
  const stop = async () => {
    await procs.kubeProxy?.stop();
    await procs.kubelet?.stop();
    // Containers and their shims outlive containerd (they are not its children): end them too.
    // Pods without QoS cgroups (cgroupsPerQOS is off) put their containers under /k8s.io/<id>,
    // outside the node's cgroupRoot, so the node's own task list names those cgroups.
    const containerCgroups = (await nodeTaskIds(holder.pid)).map((id) => `/k8s.io/${id}`);
    for (const cgroup of [settings.cgroupRoot, ...containerCgroups]) await killNodeProcesses(cgroup, undefined, []);
    await procs.containerd.stop();
    await killNodeProcesses(settings.cgroupRoot, mountNamespace, [holder.pid, process.pid]);
    await holder.stop();
    await new Promise((r) => setTimeout(r, 200));
    for (const cgroup of [settings.cgroupRoot, ...containerCgroups]) await removeCgroups(cgroup);
  };
  try {
    await waitForSocket(procs.containerd, () =>
      exec(['ctr', '--address', '/run/containerd/containerd.sock', 'version']),
    );
    procs.kubelet = startKubelet();
    procs.kubeProxy = startKubeProxy();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    name: o.name,
    ip: settings.ip,
    root,
    netns: o.attachment.netns,
    restoreViaCreate: o.restoreViaCreate,
    servingCertificate: o.servingCertificate,
    containerd: () => procs.containerd,
    kubelet: () => procs.kubelet!,
    kubeProxy: () => procs.kubeProxy!,
    async restartKubelet(downMsOrWhileDown = 0) {
      await procs.kubelet?.stop();
      try {
        if (typeof downMsOrWhileDown === 'number') await new Promise((r) => setTimeout(r, downMsOrWhileDown));
        else await downMsOrWhileDown();
      } finally {
        procs.kubelet = startKubelet();
      }
    },
    async restartContainerd(downMs = 0) {
      await procs.containerd.stop();
      await new Promise((r) => setTimeout(r, downMs));
      procs.containerd = startContainerd();
      await waitForSocket(procs.containerd, () =>
        exec(['ctr', '--address', '/run/containerd/containerd.sock', 'version']),
      );
    },
    async trustRegistry(host, how) {
      if ('plainHttp' in how) return trustRegistry(host, registryHostToml(host, how));
      const caFile = join(root, 'etc/containerd/certs.d', host, 'ca.crt');
      await mkdir(dirname(caFile), { recursive: true });
      await writeFile(caFile, how.ca);
      await trustRegistry(host, registryHostToml(host, { caFile }));
    },
    async containerPid(containerId) {
      const { stdout } = await exec([
        'ctr',
        '--address',
        '/run/containerd/containerd.sock',
        '-n',
        'k8s.io',
        'tasks',
        'ls',
      ]).catch(() => ({ stdout: '' }));
      const row = stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .find((cols) => cols[0] === containerId && cols[2] === 'RUNNING');
      return row ? Number(row[1]) : undefined;
    },
    exec,
    stop,
  };
}

/**
 * The node's mount namespace: /sys remounted for the node's network (cgroups carried over), the
 * node's /var and a /run of its own, and the kubelet's sysctls. The last line prints a marker
 * the caller waits for, then the shell becomes `sleep`, which holds the namespace.
 */
function mountScript(root: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const sysctls = Object.keys(KUBELET_SYSCTLS).map(
    (key) => `mount --bind ${q(join(root, 'sysctl', key.replace(/\//g, '.')))} /proc/sys/${key}`,
  );
  return [
    'set -e',
    `mount --rbind /sys/fs/cgroup ${q(join(root, 'cgroup-bind'))}`,
    'mount -t sysfs sysfs /sys',
    `mount --rbind ${q(join(root, 'cgroup-bind'))} /sys/fs/cgroup`,
    `umount -l ${q(join(root, 'cgroup-bind'))}`,
    `mount --bind ${q(join(root, 'var'))} /var`,
    'mount -t tmpfs -o mode=0755 tmpfs /run',
    'mkdir -p /run/lock',
    ...sysctls,
    `touch ${q(join(root, 'mounts-ready'))}`,
    'exec sleep infinity',
  ].join('\n');
}

async function waitForMounts(holder: ManagedProcess, root: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (
      await readFile(join(root, 'mounts-ready')).then(
        () => true,
        () => false,
      )
    )
      return;
    if (holder.hasExited())
      throw new Error(`the node's mount namespace could not be set up:\n${await holder.logTail()}`);
    if (Date.now() > deadline)
      throw new Error(`the node's mount namespace was not ready within 10 s:\n${await holder.logTail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitForSocket(proc: ManagedProcess, check: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.hasExited()) throw new Error(`${proc.name} exited (${await proc.exited}):\n${await proc.logTail()}`);
    if (
      await check().then(
        () => true,
        () => false,
      )
    )
      return;
    if (Date.now() > deadline) throw new Error(`${proc.name} did not answer within 30 s:\n${await proc.logTail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every process in the node's cgroups (its containers) and its mount namespace (containerd's shims), killed. */
async function killNodeProcesses(
  cgroupRoot: string,
  mountNamespace: string | undefined,
  except: number[],
): Promise<void> {
  const pids = new Set<number>();
  const { stdout } = await run('sh', [
    '-c',
    `find /sys/fs/cgroup/*${cgroupRoot} -name cgroup.procs -exec cat {} + 2>/dev/null; true`,
  ]).catch(() => ({ stdout: '' }));
  for (const p of stdout.split('\n')) if (/^\d+$/.test(p.trim())) pids.add(Number(p));
  if (mountNamespace) {
    for (const entry of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(entry)) continue;
      if ((await readlink(`/proc/${entry}/ns/mnt`).catch(() => '')) === mountNamespace) pids.add(Number(entry));
    }
  }
  for (const pid of pids) {
    if (except.includes(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** The ids of the containers and sandboxes containerd runs on the node, read through the node's own /run. */
async function nodeTaskIds(holderPid: number): Promise<string[]> {
  const tasks = `/proc/${holderPid}/root/run/containerd/io.containerd.runtime.v2.task/k8s.io`;
  return (await readdir(tasks).catch(() => [] as string[])).filter((id) => /^[0-9a-f]{64}$/.test(id));
}

/** Removes the node's (now empty) cgroups from every hierarchy, deepest first. */
async function removeCgroups(cgroupRoot: string): Promise<void> {
  await run('sh', [
    '-c',
    `for h in /sys/fs/cgroup/*; do [ -d "$h${cgroupRoot}" ] && find "$h${cgroupRoot}" -depth -type d -exec rmdir {} + 2>/dev/null; done; true`,
  ]).catch(() => undefined);
}

const STALE_CGROUP = /^checkpoint-cluster-(\d+)-/;

/** cgroups left by runs that died without stopping their nodes: their processes killed, the cgroups removed. */
export async function reapStaleNodeCgroups(): Promise<void> {
  const names = new Set<string>();
  for (const h of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    for (const d of await readdir(join('/sys/fs/cgroup', h)).catch(() => [] as string[]))
      if (STALE_CGROUP.test(d)) names.add(d);
  }
  for (const name of names) {
    const pid = Number(STALE_CGROUP.exec(name)![1]);
    if (
      pid === process.pid ||
      (await readlink(`/proc/${pid}/exe`).then(
        () => true,
        () => false,
      ))
    )
      continue;
    await killNodeProcesses(`/${name}`, undefined, []);
    await new Promise((r) => setTimeout(r, 200));
    await removeCgroups(`/${name}`);
  }
  await removeAbandonedContainerCgroups();
}

/**
 * Empty /k8s.io/<id> cgroups of containers whose node is long gone (a run killed before its
 * teardown). runc puts a container's first process into its cgroup as it creates it, so an empty
 * one older than a few minutes belongs to no running node.
 */
async function removeAbandonedContainerCgroups(): Promise<void> {
  const olderThan = Date.now() - 10 * 60_000;
  for (const h of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    const parent = join('/sys/fs/cgroup', h, 'k8s.io');
    for (const id of await readdir(parent).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{64}$/.test(id)) continue;
      const dir = join(parent, id);
      const modified = await stat(dir).then(
        (s) => s.mtimeMs,
        () => Date.now(),
      );
      if (modified < olderThan) await rmdir(dir).catch(() => undefined);
    }
  }
}

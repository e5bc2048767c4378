import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Binaries, ensureBinaries } from './binaries.js';
import { writeKubeconfig } from './kubeconfig.js';
import { type ClusterPki, generatePki } from './pki.js';
import { hostPort, loopbackHost, type ServerHost } from './network/server-host.js';
import { type ManagedProcess, reapStale, startProcess } from './processes.js';

const run = promisify(execFile);

export interface ControlPlaneOptions {
  /** Default: a fresh directory under the system temp dir. */
  dir?: string;
  verbosity?: number;
  /** Where etcd and the API server listen (default: this machine's loopback). */
  host?: ServerHost;
}

export interface ControlPlane {
  dir: string;
  /** https://<host>:<port> of the API server, the same from this machine, nodes and pods. */
  server: string;
  host: ServerHost;
  apiserverPort: number;
  kubeconfigPath: string;
  caCertPath: string;
  /** Private ServiceAccount signing key (the public half is pki.serviceAccountPub): for minting test tokens. */
  serviceAccountKeyPath: string;
  pki: ClusterPki;
  binaries: Binaries;
  processes: ManagedProcess[];
  timings: Record<string, number>;
  kubectl(
    args: string[],
    opts?: { input?: string; allowFailure?: boolean },
  ): Promise<{ stdout: string; stderr: string; code: number }>;
  /** Restarts the API server in place (same port, same etcd): for fault tests. */
  restartApiServer(): Promise<void>;
  /** Stops etcd, keeps it down for downMs, and starts it again on the same data and ports: for fault tests. */
  restartEtcd(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts real etcd, kube-apiserver (RBAC and Node authorization, client certificates,
 * ServiceAccount tokens), kube-controller-manager and kube-scheduler on loopback ports.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const mark = (name: string) => {
    timings[name] = (Date.now() - t0) / 1000;
  };
  const binaries = await ensureBinaries();
  mark('binaries');
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'checkpoint-cluster-')));
  // A reused directory may still hold the etcd and ports of a run that was SIGKILLed.
  if (opts.dir) reapStale(dir);
  const v = String(opts.verbosity ?? 1);
  const processes: ManagedProcess[] = [];
  const stopAll = async () => {
    for (const p of [...processes].reverse()) await p.stop();
  };

  try {
    const host = opts.host ?? loopbackHost;
    const [pki, etcdClient, etcdPeer, apiPort] = await Promise.all([
      generatePki(dir, host.ip),
      host.freePort(),
      host.freePort(),
      host.freePort(),
    ]);
    mark('pki');
    const server = `https://${hostPort(host, apiPort)}`;
    const etcdUrl = (port: number) => `http://${hostPort(host, port)}`;

    // No fsync: the cluster is thrown away after each run, and fsync dominates etcd latency on CI disks.
    const etcdArgs = [
      '--data-dir',
      join(dir, 'etcd'),
      '--name',
      'local',
      '--listen-client-urls',
      etcdUrl(etcdClient),
      '--advertise-client-urls',
      etcdUrl(etcdClient),
      '--listen-peer-urls',
      etcdUrl(etcdPeer),
      '--initial-advertise-peer-urls',
      etcdUrl(etcdPeer),
      '--initial-cluster',
      `local=${etcdUrl(etcdPeer)}`,
      '--unsafe-no-fsync',
      '--log-level',
      'warn',
    ];
    const startEtcd = () => startProcess(dir, 'etcd', binaries.etcd, etcdArgs, process.env, host);
    const etcdRef = { current: startEtcd() };
    processes.push(etcdRef.current);
    const etcdReady = () => waitFor(etcdRef.current, processes, () => httpOk(`${etcdUrl(etcdClient)}/health`));
    await etcdReady();
    mark('etcd');

    const apiserverArgs = [
      '--etcd-servers',
      etcdUrl(etcdClient),
      '--bind-address',
      host.ip,
      '--advertise-address',
      host.ip,
      '--secure-port',
      String(apiPort),
      // The endpoint reconciler refuses loopback: a control plane on this machine's loopback is
      // reached at its address directly, without the kubernetes Service.
      ...(host.netns ? [] : ['--endpoint-reconciler-type', 'none']),
      '--tls-cert-file',
      pki.apiserverCert,
      '--tls-private-key-file',
      pki.apiserverKey,
      '--client-ca-file',
      pki.caCert,
      '--authorization-mode',
      'Node,RBAC',
      '--service-account-issuer',
      'https://kubernetes.default.svc.cluster.local',
      '--service-account-key-file',
      pki.serviceAccountPub,
      '--service-account-signing-key-file',
      pki.serviceAccountKey,
      '--service-cluster-ip-range',
      '10.96.0.0/16',
      '--allow-privileged=true',
      '--kubelet-client-certificate',
      pki.apiserverKubeletClient.cert,
      '--kubelet-client-key',
      pki.apiserverKubeletClient.key,
      // No --kubelet-certificate-authority, as kubeadm and kind set none: the API server then
      // reaches kubelets with self-signed serving certificates too (logs, exec, node proxy).
      '--kubelet-preferred-address-types',
      'InternalIP',
      '--enable-admission-plugins',
      'NodeRestriction',
      '--cert-dir',
      join(dir, 'apiserver-certs'),
      '--v',
      v,
    ];
    const adminKubeconfig = await writeKubeconfig(
      join(dir, 'admin.kubeconfig'),
      server,
      pki.caCert,
      pki.admin,
      'admin',
    );
    const cmKubeconfig = await writeKubeconfig(
      join(dir, 'controller-manager.kubeconfig'),
      server,
      pki.caCert,
      pki.controllerManager,
      'controller-manager',
    );
    const schedKubeconfig = await writeKubeconfig(
      join(dir, 'scheduler.kubeconfig'),
      server,
      pki.caCert,
      pki.scheduler,
      'scheduler',
    );
    const startApiserver = () =>
      startProcess(dir, 'kube-apiserver', binaries.kubeApiserver, apiserverArgs, process.env, host);
    const apiserverRef = { current: startApiserver() };
    processes.push(apiserverRef.current);
    const adminTls = {
      ca: await readFile(pki.caCert),
      cert: await readFile(pki.admin.cert),
      key: await readFile(pki.admin.key),
    };
    // /readyz only turns 200 once every post-start hook is done, rbac/bootstrap-roles included, so
    // RBAC-guarded requests made right after this see the default ClusterRoles and bindings.
    const apiserverReady = () =>
      waitFor(
        apiserverRef.current,
        processes,
        async () => {
          const r = await httpsGet(`${server}/readyz`, adminTls);
          return r.status === 200;
        },
        90_000,
      );
    await apiserverReady();
    mark('apiserver');

    const [cmPort, schedPort] = await Promise.all([host.freePort(), host.freePort()]);
    const controllerManager = startProcess(
      dir,
      'kube-controller-manager',
      binaries.kubeControllerManager,
      [
        '--kubeconfig',
        cmKubeconfig,
        '--authentication-kubeconfig',
        cmKubeconfig,
        '--authorization-kubeconfig',
        cmKubeconfig,
        '--bind-address',
        '127.0.0.1',
        '--secure-port',
        String(cmPort),
        '--leader-elect=false',
        '--use-service-account-credentials=true',
        '--controllers=*',
        '--service-account-private-key-file',
        pki.serviceAccountKey,
        '--root-ca-file',
        pki.caCert,
        '--cluster-signing-cert-file',
        pki.caCert,
        '--cluster-signing-key-file',
        pki.caKey,
        '--cert-dir',
        join(dir, 'controller-manager-certs'),
        '--v',
        v,
      ],
      process.env,
      host,
    );
    processes.push(controllerManager);
    const scheduler = startProcess(
      dir,
      'kube-scheduler',
      binaries.kubeScheduler,
      [
        '--kubeconfig',
        schedKubeconfig,
        '--authentication-kubeconfig',
        schedKubeconfig,
        '--authorization-kubeconfig',
        schedKubeconfig,
        '--bind-address',
        '127.0.0.1',
        '--secure-port',
        String(schedPort),
        '--leader-elect=false',
        '--v',
        v,
      ],
      process.env,
      host,
    );
    processes.push(scheduler);

    const kubectl = async (args: string[], o: { input?: string; allowFailure?: boolean } = {}) => {
      const child = run(binaries.kubectl, ['--kubeconfig', adminKubeconfig, ...args], { maxBuffer: 64 * 1024 * 1024 });
      if (o.input !== undefined) child.child.stdin!.end(o.input);
      try {
        const { stdout, stderr } = await child;
        return { stdout, stderr, code: 0 };
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; code?: number };
        if (o.allowFailure) return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: e.code ?? 1 };
        throw new Error(`kubectl ${args.join(' ')} failed: ${e.stderr ?? String(err)}`, { cause: err });
      }
    };
    // The controller-manager is working once its token and ServiceAccount controllers have run.
    await waitFor(
      controllerManager,
      processes,
      async () =>
        (await kubectl(['get', 'serviceaccount', 'default', '-n', 'default', '-o', 'name'], { allowFailure: true }))
          .code === 0,
      90_000,
    );
    mark('controller-manager');
    if (scheduler.hasExited()) throw new Error(`kube-scheduler exited:\n${await scheduler.logTail()}`);

    let stopped = false;
    return {
      dir,
      server,
      host,
      apiserverPort: apiPort,
      kubeconfigPath: adminKubeconfig,
      caCertPath: pki.caCert,
      serviceAccountKeyPath: pki.serviceAccountKey,
      pki,
      binaries,
      processes,
      timings,
      kubectl,
      async restartApiServer() {
        const old = apiserverRef.current;
        await old.stop();
        processes.splice(processes.indexOf(old), 1, (apiserverRef.current = startApiserver()));
        await apiserverReady();
      },
      async restartEtcd(downMs) {
        const old = etcdRef.current;
        await old.stop();
        await new Promise((r) => setTimeout(r, downMs));
        processes.splice(processes.indexOf(old), 1, (etcdRef.current = startEtcd()));
        await etcdReady();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll();
        if (process.env.KEEP_CLUSTER !== '1' && !opts.dir) await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll();
    if (!opts.dir && process.env.KEEP_CLUSTER !== '1')
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/**
 * Polls check until it passes. Every process started so far is watched, not only the awaited one:
 * if etcd dies while the controller-manager starts, the log that explains it is etcd's. The log
 * tail goes into the error because the cluster directory is removed on failure.
 */
async function waitFor(
  awaited: ManagedProcess,
  all: ManagedProcess[],
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = all.find((p) => p.hasExited());
    if (dead)
      throw new Error(
        `${dead.name} exited (${await dead.exited}) while waiting for ${awaited.name}:\n${await dead.logTail()}`,
      );
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`${awaited.name} was not ready within ${timeoutMs / 1000}s:\n${await awaited.logTail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url).catch(() => undefined);
  return res?.ok ?? false;
}

function httpsGet(
  url: string,
  tls: { ca: Buffer; cert: Buffer; key: Buffer },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...tls, timeout: 5000 }, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (c: string) => (body += c))
        .on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

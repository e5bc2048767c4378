import { spawn } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Binaries {
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  etcd: string;
  minio: string;
  /** Jaeger v2: the OTLP trace receiver tests query. */
  jaeger: string;
  kubelet: string;
  kubeProxy: string;
  containerd: string;
  /** containerd's runc shim (containerd finds it on its PATH, next to itself). */
  containerdShim: string;
  ctr: string;
  runc: string;
  criu: string;
  /** The pod sandbox's pause program (static). */
  pause: string;
  localPathProvisioner: string;
  /** Helm, for the install tests that install, upgrade and uninstall the operator's chart. */
  helm: string;
}

const here = import.meta.dirname;

export function cacheDir(): string {
  return process.env.CHECKPOINT_OPERATOR_CACHE ?? join(homedir(), '.cache', 'checkpoint-operator');
}

export async function pinnedVersions(): Promise<PinnedVersions> {
  return JSON.parse(await readFile(join(here, 'versions.json'), 'utf8'));
}

export interface PinnedVersions {
  kubernetes: string;
  etcd: string;
  minio: string;
  jaeger: string;
  containerd: string;
  runc: string;
  criu: string;
  criuSha256: string;
  localPathProvisioner: string;
  helm: string;
}

function pathsFor(v: PinnedVersions): Binaries {
  const k8s = join(cacheDir(), 'bin', `kubernetes-${v.kubernetes}`);
  return {
    kubeApiserver: join(k8s, 'kube-apiserver'),
    kubeControllerManager: join(k8s, 'kube-controller-manager'),
    kubeScheduler: join(k8s, 'kube-scheduler'),
    kubectl: join(k8s, 'kubectl'),
    etcd: join(cacheDir(), 'bin', `etcd-${v.etcd}`, 'etcd'),
    minio: join(cacheDir(), 'bin', `minio-${v.minio}`, 'minio'),
    jaeger: join(cacheDir(), 'bin', `jaeger-${v.jaeger}`, 'jaeger'),
    kubelet: join(k8s, 'kubelet'),
    kubeProxy: join(k8s, 'kube-proxy'),
    containerd: join(cacheDir(), 'bin', `containerd-${v.containerd}`, 'containerd'),
    containerdShim: join(cacheDir(), 'bin', `containerd-${v.containerd}`, 'containerd-shim-runc-v2'),
    ctr: join(cacheDir(), 'bin', `containerd-${v.containerd}`, 'ctr'),
    runc: join(cacheDir(), 'bin', `runc-${v.runc}`, 'runc'),
    criu: join(cacheDir(), 'bin', `criu-${v.criu}`, 'criu'),
    pause: join(cacheDir(), 'bin', `pause-${v.kubernetes}`, 'pause'),
    localPathProvisioner: join(
      cacheDir(),
      'bin',
      `local-path-provisioner-${v.localPathProvisioner}`,
      'local-path-provisioner',
    ),
    helm: join(cacheDir(), 'bin', `helm-${v.helm}`, 'helm'),
  };
}

async function allPresent(b: Binaries): Promise<boolean> {
  try {
    await Promise.all(Object.values(b).map((p) => access(p)));
    return true;
  } catch {
    return false;
  }
}

/** Paths of the cluster's programs; builds them from their Go modules on first use. */
export async function ensureBinaries(): Promise<Binaries> {
  const binaries = pathsFor(await pinnedVersions());
  if (await allPresent(binaries)) return binaries;
  process.stderr.write(
    'building the local cluster binaries from their Go modules (first run only; several minutes)…\n',
  );
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bash', [join(here, 'build', 'build-binaries.sh')], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`build-binaries.sh exited with ${code}`))));
  });
  if (!(await allPresent(binaries))) throw new Error('the binaries are still missing after the build');
  return binaries;
}

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ClusterPki {
  dir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  admin: ClientCert;
  controllerManager: ClientCert;
  scheduler: ClientCert;
  /** What the API server presents to kubelets (node proxy, logs). */
  apiserverKubeletClient: ClientCert;
}

export interface ClientCert {
  cert: string;
  key: string;
}

// Serials are random: certificates are signed concurrently, and a shared serial file would race.

/** EC P-256 keys: quick to make, accepted everywhere Kubernetes takes a key. */
async function ecKey(path: string): Promise<void> {
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path]);
  await chmod(path, 0o600);
}

async function signed(
  dir: string,
  name: string,
  subject: string,
  ext: string,
  caCert: string,
  caKey: string,
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  await ecKey(key);
  await writeFile(extFile, ext);
  await run('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caCert,
    '-CAkey',
    caKey,
    '-set_serial',
    `0x${randomBytes(16).toString('hex')}`,
    '-days',
    '365',
    '-sha256',
    '-extfile',
    extFile,
    '-out',
    cert,
  ]);
  return { cert, key };
}

const CLIENT_EXT =
  'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n';
const serverExt = (sans: string[]) =>
  `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${sans.join(',')}\n`;

function subject(cn: string, groups: string[] = []): string {
  return `${groups.map((g) => `/O=${g}`).join('')}/CN=${cn}`;
}

/** A client certificate signed by the cluster CA: the way kubelets and admins authenticate. */
export function issueClientCert(
  pki: Pick<ClusterPki, 'dir' | 'caCert' | 'caKey'>,
  name: string,
  who: { cn: string; groups?: string[] },
): Promise<ClientCert> {
  return signed(pki.dir, name, subject(who.cn, who.groups), CLIENT_EXT, pki.caCert, pki.caKey);
}

/** A serving certificate signed by the cluster CA for the given IPs and DNS names. */
export function issueServingCert(
  pki: Pick<ClusterPki, 'dir' | 'caCert' | 'caKey'>,
  name: string,
  cn: string,
  sans: { ips?: string[]; dns?: string[] },
): Promise<ClientCert> {
  const list = [...(sans.ips ?? []).map((ip) => `IP:${ip}`), ...(sans.dns ?? []).map((d) => `DNS:${d}`)];
  return signed(pki.dir, name, subject(cn), serverExt(list), pki.caCert, pki.caKey);
}

/** A self-signed certificate authority, as `<name>.crt` and `<name>.key` in dir. */
export async function generateCa(
  dir: string,
  name: string,
  cn: string,
): Promise<{ dir: string; caCert: string; caKey: string }> {
  const caKey = join(dir, `${name}.key`);
  const caCert = join(dir, `${name}.crt`);
  await ecKey(caKey);
  await run('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    caKey,
    '-subj',
    `/CN=${cn}`,
    '-days',
    '3650',
    '-sha256',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    caCert,
  ]);
  return { dir, caCert, caKey };
}

/**
 * Generates the CA, the API server's serving certificate (for apiserverIP, loopback and the
 * `kubernetes` Service), client identities and the ServiceAccount signing key.
 */
export async function generatePki(dir: string, apiserverIP = '127.0.0.1'): Promise<ClusterPki> {
  const base = await generateCa(dir, 'ca', 'checkpoint-operator-local-ca');
  const { caCert, caKey } = base;
  const serviceAccountKey = join(dir, 'sa.key');
  const serviceAccountPub = join(dir, 'sa.pub');
  const [apiserver, admin, controllerManager, scheduler, apiserverKubeletClient] = await Promise.all([
    issueServingCert(base, 'apiserver', 'kube-apiserver', {
      ips: [...new Set([apiserverIP, '127.0.0.1', '10.96.0.1'])],
      dns: [
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
    }),
    issueClientCert(base, 'admin', { cn: 'checkpoint-operator-admin', groups: ['system:masters'] }),
    issueClientCert(base, 'controller-manager', { cn: 'system:kube-controller-manager' }),
    issueClientCert(base, 'scheduler', { cn: 'system:kube-scheduler' }),
    issueClientCert(base, 'apiserver-kubelet-client', {
      cn: 'kube-apiserver-kubelet-client',
      groups: ['system:masters'],
    }),
    ecKey(serviceAccountKey).then(() =>
      run('openssl', ['ec', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPub]),
    ),
  ]);
  return {
    dir,
    caCert,
    caKey,
    apiserverCert: apiserver.cert,
    apiserverKey: apiserver.key,
    serviceAccountKey,
    serviceAccountPub,
    admin,
    controllerManager,
    scheduler,
    apiserverKubeletClient,
  };
}

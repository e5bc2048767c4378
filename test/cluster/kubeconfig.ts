import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import type { ClientCert } from './pki.js';

/** Writes a kubeconfig for one identity (a client certificate) against the local API server. */
export async function writeKubeconfig(
  path: string,
  server: string,
  caCert: string,
  identity: ClientCert,
  user = 'user',
): Promise<string> {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server, 'certificate-authority': caCert } }],
    users: [{ name: user, user: { 'client-certificate': identity.cert, 'client-key': identity.key } }],
    contexts: [{ name: 'local', context: { cluster: 'local', user, namespace: 'default' } }],
    'current-context': 'local',
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}

import { readFile } from 'node:fs/promises';
import type https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** How to reach and authenticate to the API server, as of now (tokens rotate). */
export interface ApiCredentials {
  /** https://host:port */
  server: string;
  tls: {
    ca?: string | Buffer | undefined;
    cert?: string | Buffer | undefined;
    key?: string | Buffer | undefined;
    rejectUnauthorized: boolean;
  };
  /** Authorization and the like, lower-case names. */
  headers: Record<string, string>;
}

export type CredentialSource = () => Promise<ApiCredentials>;

/** From a loaded KubeConfig (the dispatcher, which uses client-node anyway). */
export function fromKubeConfig(kc: KubeConfig): CredentialSource {
  const server = kc.getCurrentCluster()!.server;
  return async () => {
    const opts: https.RequestOptions = { headers: {} };
    await kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k.toLowerCase()] = v;
    return {
      server,
      tls: {
        ca: opts.ca as Buffer | undefined,
        cert: opts.cert as Buffer | undefined,
        key: opts.key as Buffer | undefined,
        rejectUnauthorized: opts.rejectUnauthorized ?? true,
      },
      headers,
    };
  };
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * In-cluster credentials read straight from the projected ServiceAccount files, as client-go's
 * rest.InClusterConfig does. Jobs use this instead of client-node: loading client-node alone
 * costs a Job about 80 MiB of RSS, more than its whole data path.
 */
export function inCluster(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): CredentialSource {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw new Error('not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset');
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return async () => {
    const [token, ca] = await Promise.all([readFile(`${dir}/token`, 'utf8'), readFile(`${dir}/ca.crt`)]);
    return { server, tls: { ca, rejectUnauthorized: true }, headers: { authorization: `Bearer ${token.trim()}` } };
  };
}

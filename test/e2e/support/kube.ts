import https from 'node:https';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ApiException, CustomObjectsApi, KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import { clusterContext } from './cluster-context.js';

const run = promisify(execFile);

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(clusterContext().kubeconfig);
  return kc;
}

export const objects = () => KubernetesObjectApi.makeApiClient(kubeConfig());
export const customObjects = () => kubeConfig().makeApiClient(CustomObjectsApi);

/** Runs the real kubectl against the local cluster; rejects with its stderr on failure. */
export async function kubectl(args: string[], input?: string): Promise<string> {
  const { kubeconfig, kubectl: bin } = clusterContext();
  const child = run(bin, ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 64 * 1024 * 1024 });
  if (input !== undefined) {
    child.child.stdin!.end(input);
  }
  const { stdout } = await child;
  return stdout;
}

/** The API server's message for a refused request, or a failure if the request succeeded. */
export async function refusal(request: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await request;
  } catch (err) {
    if (err instanceof ApiException) {
      const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      return { code: err.code, message: String(body?.message ?? err.message) };
    }
    throw err;
  }
  throw new Error('the API server accepted a request it should have refused');
}

/** GETs an API path as a meta.k8s.io Table, the way kubectl asks for printer columns. */
export async function getTable(
  path: string,
): Promise<{ kind: string; columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }> {
  const kc = kubeConfig();
  const url = new URL(path, kc.getCurrentCluster()!.server);
  const opts: https.RequestOptions = {
    method: 'GET',
    hostname: url.hostname,
    port: url.port,
    path: url.pathname,
    headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
  };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    https
      .request(opts, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('end', () => {
            if (res.statusCode !== 200) reject(new Error(`GET ${path}: ${res.statusCode} ${body}`));
            else resolve(JSON.parse(body));
          });
      })
      .on('error', reject)
      .end();
  });
}

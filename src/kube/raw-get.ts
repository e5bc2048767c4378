import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

const REQUEST_TIMEOUT_MS = 60_000;

/**
 * GET as plain JSON with the KubeConfig's credentials (re-applied per request: tokens rotate).
 * Informers list through this rather than client-node's generated client, which turns every
 * object into model instances (a second copy of each page) and cannot pass a page's `continue`
 * to a transform before the next. A non-200 answer rejects with its `statusCode`.
 */
export async function getJson<T>(kc: KubeConfig, path: string, accept = 'application/json'): Promise<T> {
  const url = new URL(path, kc.getCurrentCluster()!.server);
  const options: https.RequestOptions = {
    method: 'GET',
    hostname: url.hostname,
    port: url.port,
    path: `${url.pathname}${url.search}`,
    headers: { Accept: accept },
  };
  await kc.applyToHTTPSOptions(options);
  const request = url.protocol === 'http:' ? http.request : https.request;
  return new Promise((resolve, reject) => {
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res
        .on('data', (c: Buffer) => chunks.push(c))
        .on('error', reject)
        .on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(
              Object.assign(new Error(`GET ${url.pathname}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`), {
                statusCode: res.statusCode,
              }),
            );
            return;
          }
          try {
            resolve(JSON.parse(text) as T);
          } catch (err) {
            reject(err);
          }
        });
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`GET ${url.pathname}: timed out`)));
    req.on('error', reject).end();
  });
}

import { kubectl } from './kube.js';

const OPERATOR_NS = 'checkpoint-operator-system';

/**
 * A scraper inside the pod network, as Prometheus is: a pod of the operator's own image (it has
 * Node) that, asked through the API server's pod proxy, fetches an operator replica's metrics
 * endpoint with its ServiceAccount token (or with a given one, or none) and answers with the
 * status and body it got. Pod addresses are routed inside the cluster's network only.
 */
const SCRIPT = `
const http = require('node:http');
const https = require('node:https');
const fs = require('node:fs');
const token = () => fs.readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/token', 'utf8').trim();
http.createServer((req, res) => {
  const q = new URL(req.url, 'http://x').searchParams;
  const target = new URL(q.get('target'));
  const auth = q.get('auth');
  const headers = auth === 'none' ? {} : { authorization: 'Bearer ' + (auth === 'serviceaccount' ? token() : auth) };
  const lib = target.protocol === 'https:' ? https : http;
  const r = lib.get(target, { headers, rejectUnauthorized: false, timeout: 5000 }, (up) => {
    // Read while the connection is open: the socket is let go once the body has ended.
    const certificate = typeof up.socket.getPeerCertificate === 'function' ? up.socket.getPeerCertificate().subjectaltname : undefined;
    let body = '';
    up.on('data', (d) => { body += d; });
    up.on('end', () => res.end(JSON.stringify({ status: up.statusCode, body, certificate })));
  });
  r.on('timeout', () => r.destroy(new Error('timed out')));
  r.on('error', (err) => res.end(JSON.stringify({ status: 0, error: err.code || err.message })));
}).listen(9090);
`;

export interface Scrape {
  status: number;
  body?: string;
  error?: string;
  certificate?: string;
}

export class MetricsScraper {
  private constructor(
    readonly namespace: string,
    readonly name: string,
  ) {}

  /** A scraper pod running as ServiceAccount `serviceAccount` of `namespace` (created here). */
  static async start(namespace: string, name: string, serviceAccount: string): Promise<MetricsScraper> {
    const image = (
      await kubectl([
        'get',
        'deployment',
        'checkpoint-operator',
        '-n',
        OPERATOR_NS,
        '-o',
        'jsonpath={.spec.template.spec.containers[0].image}',
      ])
    ).trim();
    await kubectl(['create', 'serviceaccount', serviceAccount, '-n', namespace]).catch(() => undefined);
    await kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace },
        spec: {
          serviceAccountName: serviceAccount,
          containers: [
            {
              name: 'scraper',
              image,
              command: ['/usr/local/bin/node', '-e', SCRIPT],
              ports: [{ containerPort: 9090 }],
            },
          ],
        },
      }),
    );
    await kubectl(['wait', '--for=condition=Ready', `pod/${name}`, '-n', namespace, '--timeout=120s']);
    return new MetricsScraper(namespace, name);
  }

  /** GET `target` from inside the pod network; auth: 'serviceaccount', 'none', or a token. */
  async get(target: string, auth: string): Promise<Scrape> {
    const query = new URLSearchParams({ target, auth }).toString();
    for (let attempt = 0; ; attempt++) {
      try {
        return JSON.parse(
          await kubectl([
            'get',
            '--raw',
            `/api/v1/namespaces/${this.namespace}/pods/${this.name}:9090/proxy/?${query}`,
          ]),
        ) as Scrape;
      } catch (err) {
        // The pod is Ready before its server listens, for a moment.
        if (attempt >= 10) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}

/** Every operator replica's pod IP. */
export async function operatorPodIPs(): Promise<string[]> {
  const pods = JSON.parse(
    await kubectl(['get', 'pods', '-n', OPERATOR_NS, '-l', 'control-plane=controller-manager', '-o', 'json']),
  ) as { items: { status: { podIP?: string; phase: string } }[] };
  return pods.items.filter((p) => p.status.phase === 'Running' && p.status.podIP).map((p) => p.status.podIP!);
}

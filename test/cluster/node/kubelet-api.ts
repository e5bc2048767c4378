import { mkdir } from 'node:fs/promises';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { writeCheckpointArchive } from './checkpoint-archive.js';
import type { PodRunner } from './pod-runner.js';
import { listenInNetns } from '../network/netns-listener.js';

export type Fault = { mode: 'error' | 'stall' | 'unauthorized'; remaining: number };

export interface KubeletApiSettings {
  nodeName: string;
  nodeIP: string;
  netns: string;
  port: number;
  nodeRoot: string;
  tls: { cert: Buffer; key: Buffer; ca: Buffer };
  /** The node's identity: TokenReview and SubjectAccessReview are among what a node may create. */
  kubeConfig: KubeConfig;
  runner: PodRunner;
  defaultMemoryBytes: number;
  /** The kubelet's --runtime-request-timeout: a checkpoint may take the larger of it and ?timeout=. */
  runtimeRequestTimeoutSeconds: number;
}

export const MEMORY_ANNOTATION = 'checkpoint-sim.test/memory-bytes';
export const FAULT_ANNOTATION = 'checkpoint-sim.test/fault';

interface User { username: string; uid?: string | undefined; groups: string[]; extra?: Record<string, string[]> | undefined }

/**
 * The kubelet's checkpoint endpoint, with its contract: POST /checkpoint/{ns}/{pod}/{container}
 * [?timeout=N], authenticated (client certificate from the cluster CA, or a bearer token checked
 * by TokenReview) and authorised (SubjectAccessReview: create nodes/checkpoint), answering
 * {"items":[path]} with the archive written under /var/lib/kubelet/checkpoints. Served on the
 * node's own address.
 */
export class KubeletApi {
  private server: https.Server | undefined;
  private fault: Fault | undefined;
  private readonly authn: AuthenticationV1Api;
  private readonly authz: AuthorizationV1Api;
  private readonly inFlight = new Set<() => void>();
  private held: { until: Promise<void>; release: () => void } | undefined;

  constructor(private readonly s: KubeletApiSettings) {
    this.authn = s.kubeConfig.makeApiClient(AuthenticationV1Api);
    this.authz = s.kubeConfig.makeApiClient(AuthorizationV1Api);
  }

  /** The next `count` checkpoint requests fail (500), stall, or are refused (401). */
  setFault(mode: Fault['mode'], count = Number.POSITIVE_INFINITY): void {
    this.fault = { mode, remaining: count };
  }

  clearFault(): void {
    this.fault = undefined;
  }

  /** Stops answering, as a kubelet whose node stalled: every request waits until release(), then goes on. */
  hold(): void {
    if (this.held) return;
    let release = () => undefined as void;
    const until = new Promise<void>((resolve) => (release = resolve));
    this.held = { until, release };
  }

  release(): void {
    this.held?.release();
    this.held = undefined;
  }

  async start(): Promise<void> {
    const handle = await listenInNetns(this.s.netns, this.s.nodeIP, this.s.port);
    this.server = https.createServer({ ...this.s.tls, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      void this.handle(req, res).catch((err) => reply(res, 500, `internal error: ${String(err)}`));
    });
    await new Promise<void>((resolve) => this.server!.listen(handle, resolve));
  }

  async stop(): Promise<void> {
    this.release();
    for (const cancel of this.inFlight) cancel();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.held) await this.held.until;
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const m = /^\/checkpoint\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (!m) return reply(res, 404, '404 page not found');
    const [namespace, podName, containerName] = m.slice(1).map(decodeURIComponent) as [string, string, string];

    // As in the kubelet, authentication and authorisation come before routing by method.
    // As the kubelet's auth filter: a TokenReview that fails (the API server is unreachable) is
    // 401 like a bad token; a SubjectAccessReview that fails is 500 "Authorization error".
    const user = await this.authenticate(req).catch(() => undefined);
    if (!user || this.consumeFault('unauthorized')) return reply(res, 401, 'Unauthorized');
    const verb = req.method === 'POST' ? 'create' : 'get';
    const allowed = await this.authorize(user, verb).catch(() => undefined);
    if (allowed === undefined) return reply(res, 500, `Authorization error (user=${user.username}, verb=${verb}, resource=nodes, subresource=checkpoint)`);
    if (!allowed) {
      return reply(res, 403, `Forbidden (user=${user.username}, verb=${verb}, resource=nodes, subresource(s)=[checkpoint])`);
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return reply(res, 405, 'Method Not Allowed');
    }

    const found = this.s.runner.findPod(namespace, podName);
    if (!found || found.spec?.nodeName !== this.s.nodeName) return reply(res, 404, `pod does not exist`);
    if (!found.spec?.containers.some((c) => c.name === containerName)) return reply(res, 404, `container ${containerName} does not exist`);
    const running = this.s.runner.runningContainer(namespace, podName, containerName);
    if (!running) return reply(res, 500, `checkpointing of ${namespace}/${podName}/${containerName} failed (container is not running)`);

    const requested = url.searchParams.get('timeout');
    if (requested !== null && !/^\d+$/.test(requested)) return reply(res, 404, `invalid timeout value ${requested}`);
    const timeoutS = Math.max(Number(requested ?? 0), this.s.runtimeRequestTimeoutSeconds);
    const annotationFault = found.metadata?.annotations?.[FAULT_ANNOTATION];
    if (this.consumeFault('stall') || annotationFault === 'stall') {
      await this.stall(timeoutS * 1000, req);
      return reply(res, 500, `checkpointing of ${namespace}/${podName}/${containerName} failed (rpc error: code = DeadlineExceeded desc = context deadline exceeded)`);
    }
    if (this.consumeFault('error') || annotationFault === 'error') {
      return reply(res, 500, `checkpointing of ${namespace}/${podName}/${containerName} failed (rpc error: code = Unknown desc = failed to checkpoint container: criu failed: type NOTIFY errno 0)`);
    }

    const now = new Date();
    const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const nodePath = `/var/lib/kubelet/checkpoints/checkpoint-${podName}_${namespace}-${containerName}-${stamp}.tar`;
    const file = join(this.s.nodeRoot, nodePath);
    await mkdir(join(this.s.nodeRoot, '/var/lib/kubelet/checkpoints'), { recursive: true, mode: 0o700 });
    const memory = Number(found.metadata?.annotations?.[MEMORY_ANNOTATION] ?? '') || this.s.defaultMemoryBytes;
    const spec = found.spec.containers.find((c) => c.name === containerName)!;
    await writeCheckpointArchive(file, {
      podName, namespace, podUid: found.metadata!.uid!, containerName,
      containerId: running.container.containerId, image: running.container.rootfsImage ?? spec.image ?? '', imageRef: `sha256:${running.container.containerId}`,
      memoryBytes: memory, createdAt: running.container.startedAt ?? now, checkpointedAt: now,
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [nodePath] }));
  }

  private consumeFault(mode: Fault['mode']): boolean {
    if (!this.fault || this.fault.mode !== mode || this.fault.remaining <= 0) return false;
    this.fault.remaining--;
    return true;
  }

  private stall(ms: number, req: IncomingMessage): Promise<void> {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(t); this.inFlight.delete(done); resolve(); };
      const t = setTimeout(done, ms);
      this.inFlight.add(done);
      req.socket.once('close', done);
    });
  }

  private async authenticate(req: IncomingMessage): Promise<User | undefined> {
    const socket = req.socket as TLSSocket;
    if (socket.authorized) {
      const cert = socket.getPeerCertificate();
      const subject = cert.subject as unknown as Record<string, string | string[]>;
      const cn = subject.CN;
      const o = subject.O;
      if (typeof cn === 'string') return { username: cn, groups: [...(Array.isArray(o) ? o : o ? [o] : []), 'system:authenticated'] };
    }
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!m) return undefined;
    const review = await this.authn.createTokenReview({ body: { spec: { token: m[1]! } } });
    if (!review.status?.authenticated || !review.status.user?.username) return undefined;
    const u = review.status.user;
    return { username: u.username!, uid: u.uid, groups: u.groups ?? [], extra: u.extra };
  }

  private async authorize(user: User, verb: string): Promise<boolean> {
    const review = await this.authz.createSubjectAccessReview({
      body: {
        spec: {
          user: user.username, uid: user.uid, groups: user.groups, extra: user.extra,
          resourceAttributes: { verb, resource: 'nodes', subresource: 'checkpoint', name: this.s.nodeName, group: '' },
        },
      },
    });
    return Boolean(review.status?.allowed);
  }
}

function reply(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
}

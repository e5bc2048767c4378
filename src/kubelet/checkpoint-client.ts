import https from 'node:https';
import tls from 'node:tls';
import { isTlsError } from '../net/tls-errors.js';
import type { CredentialSource } from '../kube/credentials.js';

export type KubeletFailureReason =
  | 'KubeletUnauthorized'
  | 'KubeletForbidden'
  | 'KubeletNotFound'
  | 'KubeletCheckpointFailed'
  | 'KubeletTimeout'
  | 'KubeletUnreachable'
  | 'KubeletBadResponse'
  | 'KubeletTLSError'
  | 'KubeletCheckpointDisabled';

export class KubeletError extends Error {
  /**
   * retryable: asking again may succeed and cannot checkpoint twice, because the kubelet did not
   * get as far as the runtime (it could not reach the API server to check our credentials, was
   * restarting, or said it is overloaded), or the runtime stopped before dumping anything.
   */
  constructor(
    readonly reason: KubeletFailureReason,
    message: string,
    readonly retryable = false,
  ) {
    super(message);
  }
}

export interface CheckpointRequest {
  target: { namespace: string; podName: string; containerName: string };
  timeoutSeconds?: number | undefined;
}

export type KubeletEndpoint =
  /** Straight to the node's kubelet, authenticated with the Job's ServiceAccount token (RBAC nodes/checkpoint). */
  | {
      access: 'direct';
      host: string;
      port: number;
      token: string;
      ca: Buffer | undefined;
      insecureSkipTLSVerify: boolean;
      nodeName?: string | undefined;
    }
  /** Through the API server's node proxy (RBAC nodes/proxy). */
  | { access: 'proxy'; credentials: CredentialSource; nodeName: string };

/**
 * The kubelet waits for the runtime at least its runtime request timeout (2 minutes by default),
 * longer when the request's timeout is larger; we wait that long plus room for its answer.
 */
const RUNTIME_REQUEST_TIMEOUT_S = 120;
const CLIENT_GRACE_S = 30;

/**
 * Calls the kubelet checkpoint API: POST /checkpoint/{namespace}/{pod}/{container}[?timeout=N],
 * answered with {"items":["<archive path on the node>"]}. Returns that path.
 */
export async function requestCheckpoint(endpoint: KubeletEndpoint, req: CheckpointRequest): Promise<string> {
  const { namespace, podName, containerName } = req.target;
  const path =
    `/checkpoint/${encodeURIComponent(namespace)}/${encodeURIComponent(podName)}/${encodeURIComponent(containerName)}` +
    (req.timeoutSeconds ? `?timeout=${req.timeoutSeconds}` : '');
  const clientTimeoutMs = (Math.max(req.timeoutSeconds ?? 0, RUNTIME_REQUEST_TIMEOUT_S) + CLIENT_GRACE_S) * 1000;

  let options: https.RequestOptions;
  if (endpoint.access === 'direct') {
    options = {
      host: endpoint.host,
      port: endpoint.port,
      path,
      method: 'POST',
      headers: { Authorization: `Bearer ${endpoint.token}` },
      ...(endpoint.ca ? { ca: endpoint.ca } : {}),
      rejectUnauthorized: !endpoint.insecureSkipTLSVerify,
      checkServerIdentity: kubeletIdentity(endpoint.nodeName),
    };
  } else {
    const api = await endpoint.credentials();
    const server = new URL(api.server);
    options = {
      host: server.hostname,
      port: server.port || 443,
      method: 'POST',
      path: `/api/v1/nodes/${encodeURIComponent(endpoint.nodeName)}/proxy${path}`,
      headers: api.headers,
      ...api.tls,
    };
  }
  const { status, body } = await post(options, clientTimeoutMs);
  if (status === 200) return parseItems(body);
  throw kubeletFailure(status, body.trim().slice(0, 500) || `HTTP ${status}`);
}

/** What a kubelet's answer other than 200 means, as a reason; retryable where nothing was dumped. */
export function kubeletFailure(status: number, detail: string): KubeletError {
  switch (status) {
    // The kubelet answers 401 also when its TokenReview cannot reach the API server.
    case 401:
      return new KubeletError('KubeletUnauthorized', `the kubelet refused our credentials: ${detail}`, true);
    case 403:
      return new KubeletError('KubeletForbidden', `the kubelet denied the checkpoint: ${detail}`);
    case 404:
      // The checkpoint handler says which of the pod or container it did not find; any other 404
      // comes from a kubelet that has no /checkpoint route at all (its feature gate is off).
      if (/does not exist|not found/i.test(detail) && !/page not found/i.test(detail))
        return new KubeletError('KubeletNotFound', `the kubelet does not know the container: ${detail}`);
      return new KubeletError(
        'KubeletCheckpointDisabled',
        `the kubelet has no checkpoint API (HTTP 404: ${detail}): enable its ContainerCheckpoint feature gate (on by default from Kubernetes 1.30; alpha, off, in 1.25–1.29)`,
      );
    case 429:
    case 503:
      return new KubeletError('KubeletUnreachable', `the kubelet is not serving (HTTP ${status}): ${detail}`, true);
    default:
      // 500 "Authorization error (…)": its SubjectAccessReview could not reach the API server.
      if (status === 500 && /^Authorization error/.test(detail))
        return new KubeletError(
          'KubeletCheckpointFailed',
          `the kubelet could not check our permission (HTTP 500): ${detail}`,
          true,
        );
      // The runtime freezes the container before CRIU dumps it; a freeze that did not complete
      // (runc gives up on a cgroup v1 freezer that stays FREEZING on a busy node) thaws it again
      // and dumps nothing, so asking again cannot checkpoint twice.
      if (/pause failed: unable to freeze/.test(detail))
        return new KubeletError(
          'KubeletCheckpointFailed',
          `the runtime could not freeze the container (HTTP ${status}): ${detail}`,
          true,
        );
      if (/deadline exceeded|timed? ?out/i.test(detail))
        return new KubeletError('KubeletTimeout', `the checkpoint timed out in the kubelet: ${detail}`);
      return new KubeletError(
        'KubeletCheckpointFailed',
        `the kubelet failed to checkpoint (HTTP ${status}): ${detail}`,
      );
  }
}

function parseItems(body: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new KubeletError(
      'KubeletBadResponse',
      `the kubelet answered with something other than JSON: ${body.slice(0, 200)}`,
    );
  }
  const items = (parsed as { items?: unknown }).items;
  if (!Array.isArray(items) || items.length === 0 || typeof items[0] !== 'string') {
    throw new KubeletError('KubeletBadResponse', `the kubelet answered without an archive path: ${body.slice(0, 200)}`);
  }
  return items[0];
}

function post(options: https.RequestOptions, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 64 * 1024) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) =>
        reject(new KubeletError('KubeletUnreachable', `reading the kubelet's answer failed: ${err.message}`)),
      );
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(
        new KubeletError('KubeletTimeout', `the kubelet did not answer within ${Math.round(timeoutMs / 1000)}s`),
      ),
    );
    // Nothing was sent when the connection could not be made: asking again is safe.
    const refused = (err: NodeJS.ErrnoException) =>
      ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH'].includes(err.code ?? '');
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof KubeletError) reject(err);
      else if (isTlsError(err.code, err.message)) reject(kubeletTLSError(`${options.host}:${options.port}`, err));
      else
        reject(
          new KubeletError(
            'KubeletUnreachable',
            `could not reach the kubelet at ${options.host}:${options.port}: ${err.message}`,
            refused(err),
          ),
        );
    });
    req.end();
  });
}

/**
 * A kubelet's certificate must name the address we dial or, failing that, its node: the kubelet's
 * self-signed certificate names only its host name (no address), while one signed through
 * serverTLSBootstrap names both. The chain is verified either way.
 */
export function kubeletIdentity(
  nodeName: string | undefined,
): (host: string, cert: tls.PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const byAddress = tls.checkServerIdentity(host, cert);
    if (!byAddress || !nodeName) return byAddress;
    return tls.checkServerIdentity(nodeName, cert) ? byAddress : undefined;
  };
}

/**
 * A kubelet whose certificate we cannot verify. On kubeadm and kind clusters that is its own
 * self-signed certificate; the message lists every way out, safest first.
 */
export function kubeletTLSError(address: string, err: NodeJS.ErrnoException): KubeletError {
  return new KubeletError(
    'KubeletTLSError',
    `could not verify the kubelet's serving certificate at ${address} (${err.code}: ${err.message}); kubelets use a self-signed certificate unless told otherwise. ` +
      'Either sign kubelet serving certificates with the cluster CA (serverTLSBootstrap: true, then approve their CSRs), ' +
      'give their CA in the Secret named by KUBELET_CA_BUNDLE_SECRET, reach kubelets through the API server (KUBELET_ACCESS=proxy, which needs nodes/proxy), ' +
      'or knowingly skip verification (KUBELET_INSECURE_SKIP_TLS_VERIFY=true)',
  );
}

/** The kubelet writes archives here; a path from its answer outside this directory is refused. */
export const KUBELET_CHECKPOINT_DIRECTORY = '/var/lib/kubelet/checkpoints';

/** Accepts only a plain file directly inside the kubelet checkpoint directory. */
export function checkArchivePath(path: string): string {
  const prefix = `${KUBELET_CHECKPOINT_DIRECTORY}/`;
  const name = path.startsWith(prefix) ? path.slice(prefix.length) : '';
  if (!/^[A-Za-z0-9._:+-]+\.tar$/.test(name) || name.startsWith('.')) {
    throw new KubeletError(
      'KubeletBadResponse',
      `the kubelet named an archive outside ${KUBELET_CHECKPOINT_DIRECTORY}: ${path}`,
    );
  }
  return path;
}

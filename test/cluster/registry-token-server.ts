import { createPrivateKey, randomBytes, sign, timingSafeEqual, X509Certificate } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { hostPort, type ServerHost } from './network/server-host.js';

export interface TokenServer {
  /** The realm registries send clients to: http://<host>:<port>/token */
  realm: string;
  close(): Promise<void>;
}

export interface TokenServerOptions {
  account: { username: string; password: string };
  service: string;
  issuer: string;
  /** PEM EC P-256 key and its certificate; the certificate is the registry's rootcertbundle. */
  key: Buffer;
  cert: string;
  /** Where it listens: a port on the registry's host, so pods reach it too. */
  host: ServerHost;
  port: number;
}

const TOKEN_SECONDS = 300;

/**
 * A Docker token server, as registries with token auth expect one: it checks Basic credentials
 * and issues an ES256 JWT carrying the requested repository access, with the signing
 * certificate in its `x5c` header so the registry can verify it against its root bundle.
 */
export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const key = createPrivateKey(opts.key);
  const certDer = new X509Certificate(opts.cert).raw.toString('base64');
  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      reply(res, 500, { errors: [{ code: 'UNKNOWN', message: String((err as Error).message) }] });
    }
  });
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://token');
    if (req.method !== 'GET' || url.pathname !== '/token')
      return reply(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
    const user = basicUser(req.headers.authorization, opts.account);
    if (!user) {
      res.setHeader('www-authenticate', 'Basic realm="checkpoint-local-registry-token"');
      return reply(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] });
    }
    if (url.searchParams.get('service') !== opts.service)
      return reply(res, 400, { errors: [{ code: 'DENIED', message: 'unknown service' }] });
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: opts.issuer,
      sub: user,
      aud: opts.service,
      exp: now + TOKEN_SECONDS,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(12).toString('hex'),
      access: url.searchParams.getAll('scope').flatMap(parseScope),
    };
    const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer] };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${signingInput}.${signature.toString('base64url')}`;
    reply(res, 200, {
      token,
      access_token: token,
      expires_in: TOKEN_SECONDS,
      issued_at: new Date(now * 1000).toISOString(),
    });
  };
  const socket = await opts.host.listen(opts.port);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socket, () => resolve()));
  return {
    realm: `http://${hostPort(opts.host, opts.port)}/token`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `repository:team/app:pull,push` (several scopes may share one parameter, space separated). */
function parseScope(scope: string): { type: string; name: string; actions: string[] }[] {
  return scope
    .split(' ')
    .filter(Boolean)
    .flatMap((s) => {
      const m = /^([a-z]+):(.+):([a-z*,]+)$/.exec(s);
      return m ? [{ type: m[1]!, name: m[2]!, actions: m[3]!.split(',') }] : [];
    });
}

function basicUser(header: string | undefined, account: { username: string; password: string }): string | undefined {
  const m = /^Basic\s+(.+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = decoded.slice(0, colon);
  const given = Buffer.from(decoded.slice(colon + 1));
  const wanted = Buffer.from(account.password);
  const ok = colon > 0 && user === account.username && given.length === wanted.length && timingSafeEqual(given, wanted);
  return ok ? user : undefined;
}

function b64url(s: string): string {
  return Buffer.from(s).toString('base64url');
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

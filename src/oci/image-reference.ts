/**
 * Image names as the distribution spec defines them (`host[:port]/path[:tag][@sha256:…]`), the
 * scheme a registry is spoken to with, and the tags checkpoint images are pushed under.
 */

export interface Repository {
  /** The registry as written, port included: `127.0.0.1:5000`, `quay.io`, `[::1]:5000`, `docker.io`. */
  host: string;
  /** The repository inside the registry: `team/app`. */
  path: string;
}

export interface ImageReference extends Repository {
  tag?: string;
  /** `sha256:<64 hex>`. */
  digest?: string;
}

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]{1,5})?$`);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
const NAME_MAX = 255;
const DOCKER_HUB = 'docker.io';

export class InvalidReferenceError extends Error {}

/** `host[:port]/path`; a name without a registry host means Docker Hub, as container engines read it. */
export function parseRepository(name: string): Repository {
  const invalid = (why: string) => new InvalidReferenceError(`invalid repository name ${JSON.stringify(name)}: ${why}`);
  if (name.length === 0) throw invalid('empty');
  if (name.length > NAME_MAX) throw invalid(`longer than ${NAME_MAX} characters`);
  const slash = name.indexOf('/');
  const first = slash < 0 ? name : name.slice(0, slash);
  // The same rule engines use: a first component with a dot or a port, or localhost, is a host.
  const hasHost =
    slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['));
  const host = hasHost ? first : DOCKER_HUB;
  let path = hasHost ? name.slice(slash + 1) : name;
  if (hasHost && !DOMAIN.test(host)) throw invalid(`bad registry host ${JSON.stringify(host)}`);
  if (hasHost && !validPort(host)) throw invalid(`bad port in ${JSON.stringify(host)}`);
  if (path.length === 0) throw invalid('no repository path after the host');
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component))
      throw invalid(`bad path component ${JSON.stringify(component)} (lowercase letters, digits and . _ - separators)`);
  }
  if (host === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  return { host, path };
}

/** `repo:tag`, `repo@sha256:…` or `repo:tag@sha256:…`. */
export function parseImageReference(ref: string): ImageReference {
  const invalid = (why: string) => new InvalidReferenceError(`invalid image reference ${JSON.stringify(ref)}: ${why}`);
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!SHA256_DIGEST.test(digest)) throw invalid('the digest must be sha256: and 64 lowercase hex digits');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(`bad tag ${JSON.stringify(tag)}`);
  }
  const repository = parseRepository(rest);
  return { ...repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

export function repositoryName(repo: Repository): string {
  return `${repo.host}/${repo.path}`;
}

/** The reference pods are pointed at: immutable, by digest. */
export function digestReference(repo: Repository, digest: string): string {
  return `${repositoryName(repo)}@${digest}`;
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export function isSha256Digest(digest: string): boolean {
  return SHA256_DIGEST.test(digest);
}

/** The host name without port or IPv6 brackets. */
export function hostname(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}

export function isLoopbackHost(host: string): boolean {
  const name = hostname(host).toLowerCase();
  if (name === 'localhost' || name === '::1') return true;
  const octets = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  return octets !== null && octets.slice(1).every((o) => Number(o) <= 255);
}

/**
 * Where the registry's API is. HTTPS unless asked otherwise, except on loopback: container
 * engines treat loopback registries as insecure by default, and so does this, unless a CA was
 * given to verify the registry with (`tls`), which only makes sense over HTTPS.
 */
export function registryBaseUrl(host: string, opts: { insecure?: boolean; tls?: boolean } = {}): string {
  const scheme = opts.tls ? 'https' : opts.insecure || isLoopbackHost(host) ? 'http' : 'https';
  // Docker Hub's API lives on its own host; the name users write is only an alias.
  return `${scheme}://${host === DOCKER_HUB ? 'registry-1.docker.io' : host}`;
}

const UID_CHARS = 12;
const TAG_MAX = 128;

/**
 * The tag a Checkpoint's image is pushed under: readable (namespace and name, the name cut when
 * long) and unique per Checkpoint object (the uid's first characters), stable across re-runs.
 */
export function checkpointImageTag(namespace: string, name: string, uid: string): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '-');
  const suffix = `-${clean(uid.toLowerCase()).slice(0, UID_CHARS)}`;
  // `_` never occurs in Kubernetes names, so it separates namespace from name without ambiguity.
  const readable = `${clean(namespace)}_${clean(name)}`.slice(0, TAG_MAX - suffix.length);
  const tag = `${readable}${suffix}`;
  return TAG.test(tag) ? tag : `_${tag.slice(0, TAG_MAX - 1)}`;
}

function validPort(host: string): boolean {
  const port = /:([0-9]+)$/.exec(host.startsWith('[') ? host.slice(host.indexOf(']') + 1) : host);
  return !port || (Number(port[1]) > 0 && Number(port[1]) < 65536);
}

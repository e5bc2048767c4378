/**
 * Registry credentials from a `kubernetes.io/dockerconfigjson` Secret (`.dockerconfigjson`), read
 * the way kubelets and container engines read them.
 */

export interface RegistryCredentials {
  username: string;
  password: string;
}

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
}

const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

export class DockerConfigError extends Error {}

/** The credentials the config holds for a registry host (`host[:port]`), or undefined. */
export function credentialsForRegistry(
  dockerConfigJson: string | Buffer,
  host: string,
): RegistryCredentials | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(dockerConfigJson.toString());
  } catch {
    // The content is a secret: the message must not quote it.
    throw new DockerConfigError('.dockerconfigjson is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null)
    throw new DockerConfigError('.dockerconfigjson is not a JSON object');
  // The legacy .dockercfg layout is the `auths` map itself.
  const auths = ('auths' in parsed ? (parsed as { auths: unknown }).auths : parsed) as Record<string, AuthEntry> | null;
  if (typeof auths !== 'object' || auths === null) return undefined;
  const wanted = normaliseRegistryKey(host);
  for (const [key, entry] of Object.entries(auths)) {
    if (normaliseRegistryKey(key) !== wanted || typeof entry !== 'object' || entry === null) continue;
    const found = fromEntry(entry);
    if (found) return found;
  }
  return undefined;
}

/**
 * `https://index.docker.io/v1/`, `http://reg:5000`, `REG:5000/v2/` and `reg:5000` all name the
 * same registry; Docker Hub's several names are one.
 */
export function normaliseRegistryKey(key: string): string {
  const withoutScheme = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const host = withoutScheme.split('/')[0]!.toLowerCase();
  return DOCKER_HUB_ALIASES.has(host) ? 'docker.io' : host;
}

function fromEntry(entry: AuthEntry): RegistryCredentials | undefined {
  if (typeof entry.auth === 'string' && entry.auth.length > 0) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === 'string' && entry.username.length > 0 && typeof entry.password === 'string') {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

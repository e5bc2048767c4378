import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { credentialsForRegistry, DockerConfigError, normaliseRegistryKey } from '../src/oci/docker-config.js';
import { parseImageReference, repositoryName } from '../src/oci/image-reference.js';
import { RegistryClient } from '../src/oci/registry-client.js';
import type { RegistryAccessOptions } from './cli-args.js';

/** How this machine reaches registries: credentials by host, extra trust, plain HTTP where asked. */
export interface RegistryAccess {
  client(reference: string, actions: ('pull' | 'push')[]): RegistryClient;
}

/**
 * Registry access as container tools set it up: credentials from Docker's config.json (the
 * file named, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json when it exists;
 * without one, anonymous), a CA bundle trusted besides the system's roots, and plain HTTP for the
 * registries named insecure (as a container engine's insecure-registries), which get no CA.
 */
export async function registryAccess(opts: RegistryAccessOptions): Promise<RegistryAccess> {
  const insecure = new Set(opts.insecureRegistries.map(normaliseRegistryKey));
  const config = await readDockerConfig(opts.dockerConfig);
  const ca = opts.caFile
    ? Buffer.concat([Buffer.from(`${rootCertificates.join('\n')}\n`), await readOrSay(opts.caFile, '--ca-file')])
    : undefined;
  return {
    client(reference, actions) {
      const ref = parseImageReference(reference);
      const credentials = config ? credentialsFor(config, ref.host) : undefined;
      const plain = insecure.has(normaliseRegistryKey(ref.host));
      return new RegistryClient({
        repository: repositoryName(ref),
        actions,
        insecure: plain,
        ...(credentials ? { credentials } : {}),
        ...(ca && !plain ? { ca } : {}),
      });
    },
  };
}

async function readDockerConfig(named: string | undefined): Promise<{ text: Buffer; file: string } | undefined> {
  if (named) return { text: await readOrSay(named, '--docker-config'), file: named };
  const file = join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  const text = await readFile(file).catch(() => undefined);
  return text ? { text, file } : undefined;
}

function credentialsFor(config: { text: Buffer; file: string }, host: string) {
  try {
    const found = credentialsForRegistry(config.text, host);
    if (found) return found;
  } catch (err) {
    if (err instanceof DockerConfigError)
      throw new Error(`${config.file}: ${err.message.replace('.dockerconfigjson', 'it')}`, { cause: err });
    throw err;
  }
  // Helpers (docker-credential-*) keep secrets outside the file; this tool does not run them.
  const parsed = JSON.parse(config.text.toString()) as { credsStore?: string; credHelpers?: Record<string, string> };
  const helper = Object.entries(parsed.credHelpers ?? {}).find(
    ([k]) => normaliseRegistryKey(k) === normaliseRegistryKey(host),
  )?.[1];
  if (helper || parsed.credsStore)
    throw new Error(
      `${config.file} keeps the credentials for ${host} in the credential helper docker-credential-${helper ?? parsed.credsStore}, which this tool does not run: give a config with an "auths" entry for ${host} (--docker-config)`,
    );
  return undefined;
}

async function readOrSay(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      cause: err,
    });
  }
}

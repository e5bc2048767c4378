import { parseArgs } from 'node:util';
import { InvalidReferenceError, parseImageReference } from '../src/oci/image-reference.js';
import type { Platform } from './oci-image.js';
import { parsePlatform } from './operator-image.js';

/** The base when none is given: the official Node.js image, which has node at /usr/local/bin/node. */
export const DEFAULT_BASE = 'docker.io/library/node:26-alpine';
export const DEFAULT_PLATFORMS = 'linux/amd64,linux/arm64';

export const IMAGE_USAGE = `Usage: npm run image -- --push <registry>/<repository>:<tag> [options]

Builds the operator image (the dispatcher and every Job program) on a Node.js base for each
platform, pushes it as one multi-platform index and prints its pinned reference. No Docker needed.

  --push <ref>            where to push (a tag, not a digest)              required
  --base <ref>            the Node.js base image, with node at /usr/local/bin/node
                          (default ${DEFAULT_BASE})
  --platform <list>       comma-separated os/arch[/variant] (default ${DEFAULT_PLATFORMS})
  --docker-config <file>  registry credentials, Docker's config.json format (default
                          $DOCKER_CONFIG/config.json, else ~/.docker/config.json, when present)
  --ca-file <file>        PEM bundle trusted besides the system's for every registry here
  --insecure-registry <host[:port]>
                          speak plain HTTP to that registry (test registries only; repeatable)
  -h, --help              this text`;

export interface ImageOptions {
  push: string;
  /** The tag the index gets. */
  tag: string;
  /** `host[:port]/path` of the target repository. */
  repository: string;
  base: string;
  platforms: Platform[];
  dockerConfig?: string;
  caFile?: string;
  /** Registry hosts spoken to over plain HTTP. */
  insecureRegistries: string[];
}

export class UsageError extends Error {}

/** The options of `npm run image`, or a UsageError saying what is wrong; undefined asks for help. */
export function parseImageOptions(argv: string[]): ImageOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        push: { type: 'string' },
        base: { type: 'string' },
        platform: { type: 'string' },
        'docker-config': { type: 'string' },
        'ca-file': { type: 'string' },
        'insecure-registry': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return undefined;
  if (!values.push) throw new UsageError('--push <registry>/<repository>:<tag> is required');
  const target = reference(values.push, '--push');
  if (target.digest) throw new UsageError(`--push names a digest (${values.push}): give a tag; the digest is printed`);
  const base = values.base ?? DEFAULT_BASE;
  reference(base, '--base');
  let platforms: Platform[];
  try {
    platforms = (values.platform ?? DEFAULT_PLATFORMS)
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
      .map(parsePlatform);
  } catch (err) {
    throw new UsageError(`--platform: ${(err as Error).message}`);
  }
  if (platforms.length === 0) throw new UsageError('--platform lists no platform');
  const seen = new Set(platforms.map((p) => JSON.stringify(p)));
  if (seen.size !== platforms.length) throw new UsageError('--platform names a platform twice');
  return {
    push: values.push,
    tag: target.tag ?? 'latest',
    repository: `${target.host}/${target.path}`,
    base,
    platforms,
    ...(values['docker-config'] ? { dockerConfig: values['docker-config'] } : {}),
    ...(values['ca-file'] ? { caFile: values['ca-file'] } : {}),
    insecureRegistries: values['insecure-registry'] ?? [],
  };
}

function reference(text: string, flag: string) {
  try {
    return parseImageReference(text);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw new UsageError(`${flag}: ${err.message}`);
    throw err;
  }
}

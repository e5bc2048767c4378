import {
  parseCommandLine,
  referenceFlag,
  REGISTRY_ACCESS_USAGE,
  type RegistryAccessOptions,
  UsageError,
} from './cli-args.js';
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
${REGISTRY_ACCESS_USAGE}`;

export interface ImageOptions extends RegistryAccessOptions {
  push: string;
  /** The tag the index gets. */
  tag: string;
  /** `host[:port]/path` of the target repository. */
  repository: string;
  base: string;
  platforms: Platform[];
}

/** The options of `npm run image`, or a UsageError saying what is wrong; undefined asks for help. */
export function parseImageOptions(argv: string[]): ImageOptions | undefined {
  const parsed = parseCommandLine(argv, {
    push: { type: 'string' },
    base: { type: 'string' },
    platform: { type: 'string' },
  });
  if (!parsed) return undefined;
  const push = parsed.values.push as string | undefined;
  if (!push) throw new UsageError('--push <registry>/<repository>:<tag> is required');
  const target = referenceFlag(push, '--push');
  if (target.digest) throw new UsageError(`--push names a digest (${push}): give a tag; the digest is printed`);
  const base = (parsed.values.base as string | undefined) ?? DEFAULT_BASE;
  referenceFlag(base, '--base');
  let platforms: Platform[];
  try {
    platforms = ((parsed.values.platform as string | undefined) ?? DEFAULT_PLATFORMS)
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
    push,
    tag: target.tag ?? 'latest',
    repository: `${target.host}/${target.path}`,
    base,
    platforms,
    ...parsed.access,
  };
}

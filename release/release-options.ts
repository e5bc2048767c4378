import {
  parseCommandLine,
  referenceFlag,
  REGISTRY_ACCESS_USAGE,
  type RegistryAccessOptions,
  UsageError,
} from '../image/cli-args.js';

export const RELEASE_USAGE = `Usage: npm run release -- --image <registry>/<repository>[:<tag>][@sha256:…] [options]

Writes dist/install.yaml: CRDs, namespace, RBAC, Deployment and Services from manifests/default,
with the operator image pinned by digest. A reference without a digest is resolved at its
registry (the index npm run image pushed).

  --image <ref>           the operator image                                 required
  --out <file>            where to write (default dist/install.yaml)
${REGISTRY_ACCESS_USAGE}`;

export interface ReleaseOptions extends RegistryAccessOptions {
  image: string;
  /** `host/path[:tag]`: the reference without its digest. */
  name: string;
  /** The reference to ask the registry for when no digest was given (the tag). */
  tag: string;
  digest?: string;
  out: string;
}

export function parseReleaseOptions(argv: string[]): ReleaseOptions | undefined {
  const parsed = parseCommandLine(argv, { image: { type: 'string' }, out: { type: 'string' } });
  if (!parsed) return undefined;
  const image = parsed.values.image as string | undefined;
  if (!image) throw new UsageError('--image <registry>/<repository>:<tag> is required');
  const ref = referenceFlag(image, '--image');
  return {
    image,
    name: `${ref.host}/${ref.path}${ref.tag ? `:${ref.tag}` : ''}`,
    tag: ref.tag ?? 'latest',
    ...(ref.digest ? { digest: ref.digest } : {}),
    out: (parsed.values.out as string | undefined) ?? 'dist/install.yaml',
    ...parsed.access,
  };
}

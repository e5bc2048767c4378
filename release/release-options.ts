import { parseArgs } from 'node:util';
import { InvalidReferenceError, parseImageReference } from '../src/oci/image-reference.js';
import { UsageError } from '../image/image-options.js';

export const RELEASE_USAGE = `Usage: npm run release -- --image <registry>/<repository>[:<tag>][@sha256:…] [options]

Writes dist/install.yaml: CRDs, namespace, RBAC, Deployment and Services from manifests/default,
with the operator image pinned by digest. A reference without a digest is resolved at its
registry (the index npm run image pushed).

  --image <ref>           the operator image                                 required
  --out <file>            where to write (default dist/install.yaml)
  --docker-config <file>  registry credentials for resolving a tag (as npm run image)
  --ca-file <file>        PEM bundle trusted besides the system's
  --insecure-registry <host[:port]>
                          plain HTTP to that registry (test registries only)
  -h, --help              this text`;

export interface ReleaseOptions {
  image: string;
  /** `host/path[:tag]`: the reference without its digest. */
  name: string;
  /** The reference to ask the registry for when no digest was given (the tag). */
  tag: string;
  digest?: string;
  out: string;
  dockerConfig?: string;
  caFile?: string;
  insecureRegistries: string[];
}

export function parseReleaseOptions(argv: string[]): ReleaseOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        image: { type: 'string' },
        out: { type: 'string' },
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
  if (!values.image) throw new UsageError('--image <registry>/<repository>:<tag> is required');
  let ref;
  try {
    ref = parseImageReference(values.image);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw new UsageError(`--image: ${err.message}`);
    throw err;
  }
  const tag = ref.tag ?? 'latest';
  return {
    image: values.image,
    name: `${ref.host}/${ref.path}${ref.tag ? `:${ref.tag}` : ''}`,
    tag,
    ...(ref.digest ? { digest: ref.digest } : {}),
    out: values.out ?? 'dist/install.yaml',
    ...(values['docker-config'] ? { dockerConfig: values['docker-config'] } : {}),
    ...(values['ca-file'] ? { caFile: values['ca-file'] } : {}),
    insecureRegistries: values['insecure-registry'] ?? [],
  };
}

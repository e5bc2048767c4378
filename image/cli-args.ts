import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { type ImageReference, InvalidReferenceError, parseImageReference } from '../src/oci/image-reference.js';

/** A command line that cannot be run: the scripts print it with a pointer to --help and exit 2. */
export class UsageError extends Error {}

/** How the scripts that talk to registries (npm run image, npm run release) reach them. */
export interface RegistryAccessOptions {
  dockerConfig?: string;
  caFile?: string;
  /** Registry hosts spoken to over plain HTTP. */
  insecureRegistries: string[];
}

const REGISTRY_ACCESS_FLAGS = {
  'docker-config': { type: 'string' },
  'ca-file': { type: 'string' },
  'insecure-registry': { type: 'string', multiple: true },
} as const satisfies ParseArgsOptionsConfig;

export const REGISTRY_ACCESS_USAGE = `  --docker-config <file>  registry credentials, Docker's config.json format (default
                          $DOCKER_CONFIG/config.json, else ~/.docker/config.json, when present)
  --ca-file <file>        PEM bundle trusted besides the system's for every registry here
  --insecure-registry <host[:port]>
                          speak plain HTTP to that registry (test registries only; repeatable)
  -h, --help              this text`;

/**
 * Reads a script's flags (strict: an unknown or malformed flag is a UsageError) together with
 * the registry-access flags and --help. Undefined when help was asked for.
 */
export function parseCommandLine(
  argv: string[],
  own: ParseArgsOptionsConfig,
): { values: Record<string, unknown>; access: RegistryAccessOptions } | undefined {
  const options = { ...own, ...REGISTRY_ACCESS_FLAGS, help: { type: 'boolean', short: 'h' } } as const;
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return undefined;
  const access: RegistryAccessOptions = {
    ...(values['docker-config'] ? { dockerConfig: values['docker-config'] as string } : {}),
    ...(values['ca-file'] ? { caFile: values['ca-file'] as string } : {}),
    insecureRegistries: (values['insecure-registry'] as string[] | undefined) ?? [],
  };
  return { values, access };
}

/** An image reference given on the command line, or a UsageError naming its flag. */
export function referenceFlag(text: string, flag: string): ImageReference {
  try {
    return parseImageReference(text);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw new UsageError(`${flag}: ${err.message}`);
    throw err;
  }
}

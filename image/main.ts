/**
 * npm run image: builds the operator image without a container engine, as ko and jib do (a base
 * image from a registry plus layers of this build), for several platforms at once, and pushes it.
 * Prints the pinned reference (`<repository>:<tag>@sha256:…`) on stdout; progress goes to stderr.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UsageError } from './cli-args.js';
import { IMAGE_USAGE, parseImageOptions } from './image-options.js';
import { type BaseImage, fetchBaseImage } from './oci-image.js';
import { platformName, publishOperatorImage } from './operator-image.js';
import { registryAccess } from './registry-access.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const say = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const options = parseImageOptions(process.argv.slice(2));
  if (!options) {
    process.stdout.write(`${IMAGE_USAGE}\n`);
    return;
  }
  const access = await registryAccess(options);
  const target = access.client(options.repository, ['pull', 'push']);
  const baseClient = access.client(options.base, ['pull']);
  const work = await mkdtemp(join(tmpdir(), 'checkpoint-operator-image-'));
  try {
    // Every base is read before anything is built or pushed: a base without a platform asked for
    // stops the build here, with nothing written to the target.
    const baseRef = baseReference(options.base);
    const bases: BaseImage[] = [];
    for (const platform of options.platforms) {
      bases.push(await fetchBaseImage(baseClient, baseRef, platform));
      say(`base ${options.base} for ${platformName(platform)}: ${bases.at(-1)!.layers.length} layer(s)`);
    }
    // The target is asked before the build too: an unreachable registry or refused credentials
    // are known in a second rather than after the bundles are built.
    const probe = bases[0]!.layers[0]?.digest;
    if (probe) await target.blobExists(probe);
    const dist = join(work, 'dist');
    say('building the bundles (tsup)');
    await run(process.execPath, [join(root, 'node_modules/tsup/dist/cli-default.js'), '--out-dir', dist], {
      cwd: root,
    });
    const version = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).version as string;
    const published = await publishOperatorImage({
      target,
      tag: options.tag,
      bases,
      distDir: dist,
      workDir: work,
      annotations: {
        'org.opencontainers.image.title': 'checkpoint-operator',
        'org.opencontainers.image.version': version,
        'org.opencontainers.image.base.name': options.base,
        ...(await gitRevision()),
      },
    });
    for (const m of published.manifests) say(`pushed ${platformName(m.platform)}: ${m.digest}`);
    say(`tagged ${options.repository}:${options.tag} → index ${published.digest}`);
    process.stdout.write(`${options.repository}:${options.tag}@${published.digest}\n`);
  } finally {
    target.close();
    baseClient.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** The part of a base reference the registry is asked for: its digest, else its tag. */
function baseReference(ref: string): string {
  const at = ref.indexOf('@');
  if (at >= 0) return ref.slice(at + 1);
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? ref.slice(colon + 1) : 'latest';
}

async function gitRevision(): Promise<Record<string, string>> {
  try {
    const { stdout } = await run('git', ['rev-parse', 'HEAD'], { cwd: root });
    return { 'org.opencontainers.image.revision': stdout.trim() };
  } catch {
    return {};
  }
}

main().catch((err: unknown) => {
  // One line: what failed and why, never a stack (registry messages carry no credentials).
  const message = (err as Error).message ?? String(err);
  say(`image: ${message.replace(/\s*\n\s*/g, ' ')}`);
  if (err instanceof UsageError) say('(npm run image -- --help for the options)');
  process.exitCode = err instanceof UsageError ? 2 : 1;
});

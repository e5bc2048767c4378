/**
 * npm run release: writes dist/install.yaml, the one-file install, from manifests/default (no
 * second copy to drift) with the operator image pinned by digest.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { UsageError } from '../image/cli-args.js';
import { registryAccess } from '../image/registry-access.js';
import { MEDIA_TYPE } from '../src/oci/checkpoint-image.js';
import { installManifest } from './install-manifest.js';
import { parseReleaseOptions, RELEASE_USAGE } from './release-options.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const say = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const options = parseReleaseOptions(process.argv.slice(2));
  if (!options) {
    process.stdout.write(`${RELEASE_USAGE}\n`);
    return;
  }
  const digest = options.digest ?? (await resolveDigest(options));
  const pinned = `${options.name}@${digest}`;
  const kubectl = await findKubectl();
  const { stdout: rendered } = await run(kubectl, ['kustomize', join(root, 'manifests/default')], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const version = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).version as string;
  const manifest = installManifest(rendered, pinned, `v${version}`);
  const out = resolve(process.cwd(), options.out);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, manifest, { mode: 0o644 });
  say(`wrote ${out}: ${manifest.split(/^---$/m).length} objects, image ${pinned}`);
  process.stdout.write(`${out}\n`);
}

/** The digest the registry has under the tag: the index npm run image pushed (or a manifest). */
async function resolveDigest(options: { name: string; tag: string } & Parameters<typeof registryAccess>[0]) {
  const client = (await registryAccess(options)).client(options.name, ['pull']);
  try {
    const fetched = await client.getManifest(options.tag, [
      MEDIA_TYPE.index,
      MEDIA_TYPE.manifest,
      'application/vnd.docker.distribution.manifest.list.v2+json',
      'application/vnd.docker.distribution.manifest.v2+json',
    ]);
    say(`${options.name} is ${fetched.digest}`);
    return fetched.digest;
  } finally {
    client.close();
  }
}

/**
 * kubectl renders the kustomization: $KUBECTL, else the one on the PATH, else the one the local
 * cluster built (~/.cache/checkpoint-operator/bin/kubernetes-*), so a clean clone needs none.
 */
async function findKubectl(): Promise<string> {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  const cache = process.env.CHECKPOINT_OPERATOR_CACHE ?? join(homedir(), '.cache', 'checkpoint-operator');
  const built = (await readdir(join(cache, 'bin')).catch(() => [] as string[]))
    .filter((d) => d.startsWith('kubernetes-'))
    .sort()
    .map((d) => join(cache, 'bin', d));
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), ...built.reverse()]) {
    const candidate = join(dir, 'kubectl');
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  throw new Error('kubectl renders manifests/default (kubectl kustomize): put it on the PATH or set KUBECTL');
}

main().catch((err: unknown) => {
  const message = (err as Error).message ?? String(err);
  say(`release: ${message.replace(/\s*\n\s*/g, ' ')}`);
  if (err instanceof UsageError) say('(npm run release -- --help for the options)');
  process.exitCode = err instanceof UsageError ? 2 : 1;
});

import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { ensureBinaries } from '../../cluster/binaries.js';
import { clusterContext } from '../../e2e/support/cluster-context.js';

const run = promisify(execFile);

export const CHART = join(import.meta.dirname, '../../../charts/checkpoint-operator');
export const RELEASE = 'checkpoint-operator';
/** The namespace docs/install.md installs the chart into, and manifests/default's. */
export const RELEASE_NAMESPACE = 'checkpoint-operator-system';

let home: Promise<string> | undefined;
/**
 * Helm's cache, configuration and data directories for this run: Helm writes there (its
 * repository index, plugins, the registry config), never in the user's ~/.config/helm.
 */
function helmHome(): Promise<string> {
  home ??= mkdtemp(join(tmpdir(), 'helm-home-'));
  return home;
}

/** Runs the real helm (built from its module at the version versions.json pins) against the local cluster. */
export async function helm(args: string[]): Promise<string> {
  const [{ helm: bin }, dir] = await Promise.all([ensureBinaries(), helmHome()]);
  const { stdout } = await run(bin, [...args, '--kubeconfig', clusterContext().kubeconfig], {
    maxBuffer: 64 * 1024 * 1024,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      HELM_CACHE_HOME: join(dir, 'cache'),
      HELM_CONFIG_HOME: join(dir, 'config'),
      HELM_DATA_HOME: join(dir, 'data'),
    },
  });
  return stdout;
}

/**
 * What helm printed when it refused (stderr, and stdout where `helm lint` reports its findings);
 * fails the test when it succeeded instead.
 */
export async function helmRefusal(args: string[]): Promise<string> {
  try {
    await helm(args);
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    if (stderr === undefined) throw err;
    return `${stdout ?? ''}${stderr}`;
  }
  throw new Error(`helm ${args.join(' ')} succeeded where it should have refused`);
}

/** A values file holding `values`, for `-f` (clearer than a row of --set, and typed as YAML). */
export async function valuesFile(values: Record<string, unknown>): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'helm-values-')), 'values.yaml');
  await writeFile(file, stringify(values));
  return file;
}

/** `helm template` of the chart into the release namespace with `values`, as YAML text. */
export async function renderChart(values: Record<string, unknown> = {}): Promise<string> {
  return helm(['template', RELEASE, CHART, '--namespace', RELEASE_NAMESPACE, '-f', await valuesFile(values)]);
}

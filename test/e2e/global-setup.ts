import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startControlPlane } from '../cluster/control-plane.js';

const root = join(import.meta.dirname, '../..');

/** Starts one local cluster for the whole e2e run, installs the CRDs, and stops it at the end. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const cluster = await startControlPlane();
  try {
    await cluster.kubectl(['apply', '--server-side', '-k', join(root, 'manifests/crd')]);
    await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '-l', 'app.kubernetes.io/part-of=checkpoint-operator']);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  process.stderr.write(`local cluster ready in ${((Date.now() - started) / 1000).toFixed(1)}s at ${cluster.server} (${cluster.dir})\n`);
  project.provide('kubeconfig', cluster.kubeconfigPath);
  project.provide('kubectl', cluster.binaries.kubectl);
  project.provide('clusterDir', cluster.dir);
  return () => cluster.stop();
}

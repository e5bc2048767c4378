import { join } from 'node:path';
import { type ControlPlane, startControlPlane } from './control-plane.js';

const root = join(import.meta.dirname, '../..');

export interface LocalCluster {
  controlPlane: ControlPlane;
  kubeconfigPath: string;
  stop(): Promise<void>;
}

/** The local cluster used by tests, benchmarks and `npm run local`: control plane plus the CRDs. */
export async function startLocalCluster(opts: { dir?: string } = {}): Promise<LocalCluster> {
  const controlPlane = await startControlPlane(opts.dir ? { dir: opts.dir } : {});
  try {
    await controlPlane.kubectl(['apply', '--server-side', '-k', join(root, 'manifests/crd')]);
    await controlPlane.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '-l', 'app.kubernetes.io/part-of=checkpoint-operator']);
  } catch (err) {
    await controlPlane.stop();
    throw err;
  }
  return { controlPlane, kubeconfigPath: controlPlane.kubeconfigPath, stop: () => controlPlane.stop() };
}

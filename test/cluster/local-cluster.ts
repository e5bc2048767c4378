import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pinnedVersions } from './binaries.js';
import { type ControlPlane, startControlPlane } from './control-plane.js';
import { type SimulatedNodes, startSimulatedNodes } from './node/simulated-nodes.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');

export interface LocalCluster {
  controlPlane: ControlPlane;
  nodes: SimulatedNodes | undefined;
  kubeconfigPath: string;
  stop(): Promise<void>;
}

export interface LocalClusterOptions {
  dir?: string;
  /** Simulated nodes that run pods and serve the kubelet checkpoint API (default 2; 0 for none). */
  nodes?: number;
  /** Install manifests/default and wait for the operator Deployment (needs nodes). */
  operator?: boolean;
  log?: (line: string) => void;
}

/**
 * The local cluster used by tests, benchmarks and `npm run local`: the real control plane, the
 * CRDs, simulated nodes, and the operator installed from manifests/default exactly as users
 * install it, running as its own ServiceAccount under the shipped RBAC.
 */
export async function startLocalCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  const log = opts.log ?? (() => undefined);
  const controlPlane = await startControlPlane(opts.dir ? { dir: opts.dir } : {});
  let nodes: SimulatedNodes | undefined;
  const stop = async () => {
    await nodes?.stop();
    await controlPlane.stop();
  };
  try {
    log(`control plane up at ${controlPlane.server}`);
    await controlPlane.kubectl(['apply', '--server-side', '-k', join(root, 'manifests/crd')]);
    await controlPlane.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '-l', 'app.kubernetes.io/part-of=checkpoint-operator']);
    log('CRDs installed');
    if ((opts.nodes ?? 2) > 0) {
      nodes = await startSimulatedNodes(controlPlane, { count: opts.nodes ?? 2, repoRoot: root, kubernetesVersion: (await pinnedVersions()).kubernetes });
      log(`nodes registered: ${nodes.nodes.map((n) => `${n.name} (${n.ip})`).join(', ')}`);
    }
    if (opts.operator) {
      await run(process.execPath, [join(root, 'node_modules/tsup/dist/cli-default.js')], { cwd: root });
      log('operator built (dist/)');
      await controlPlane.kubectl(['apply', '--server-side', '-k', join(root, 'manifests/default')]);
      await controlPlane.kubectl(['rollout', 'status', '-n', 'checkpoint-operator-system', 'deployment/checkpoint-operator', '--timeout=120s']);
      log('operator running: deployment/checkpoint-operator in checkpoint-operator-system');
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { controlPlane, nodes, kubeconfigPath: controlPlane.kubeconfigPath, stop };
}

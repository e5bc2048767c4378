import type { SimulatedNodes } from '../../cluster/node/simulated-nodes.js';
import { kubectl } from '../../e2e/support/kube.js';
import { OPERATOR_NS } from './fleet.js';

/**
 * Sends a signal to a running container's process group on whichever simulated node runs it, as
 * the kernel would to a container (SIGKILL: OOM kill or crash; SIGSTOP: a frozen process).
 * Returns false when the container is not running anywhere.
 */
export function signalContainer(nodes: SimulatedNodes, namespace: string, pod: string, container: string, signal: NodeJS.Signals): boolean {
  for (const node of nodes.nodes) {
    const pid = node.runner.runningContainer(namespace, pod, container)?.container.process?.pid;
    if (pid) {
      process.kill(-pid, signal);
      return true;
    }
  }
  return false;
}

export interface LeaseView {
  holder: string;
  transitions: number;
  renewTime: string;
  acquireTime: string;
}

export async function leaderLease(): Promise<LeaseView> {
  const l = JSON.parse(await kubectl(['get', 'lease', 'checkpoint-operator-leader', '-n', OPERATOR_NS, '-o', 'json']));
  return { holder: l.spec.holderIdentity ?? '', transitions: l.spec.leaseTransitions ?? 0, renewTime: l.spec.renewTime, acquireTime: l.spec.acquireTime };
}

export async function operatorPods(): Promise<string[]> {
  const out = await kubectl(['get', 'pods', '-n', OPERATOR_NS, '-l', 'control-plane=controller-manager', '-o', 'jsonpath={.items[*].metadata.name}']);
  return out.split(/\s+/).filter(Boolean);
}

/** Running checkpoint Job pods working for Checkpoints of one namespace. */
export async function runningJobPods(namespace: string): Promise<string[]> {
  const out = await kubectl(['get', 'pods', '-n', OPERATOR_NS, '-l', `checkpoint.example.com/owner-namespace=${namespace},checkpoint.example.com/action=checkpoint`,
    '--field-selector', 'status.phase=Running', '-o', 'jsonpath={.items[*].metadata.name}']);
  return out.split(/\s+/).filter(Boolean);
}

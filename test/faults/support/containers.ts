import type { RealNodes } from '../../cluster/node/real-nodes.js';
import { kubectl } from '../../e2e/support/kube.js';
import { OPERATOR_NS } from './fleet.js';

/**
 * Sends a signal to a running container's main process on the node that runs it, found as its
 * runtime knows it (the pod's containerID, then containerd's task list on that node): SIGKILL
 * as the OOM killer or a crash would, SIGSTOP/SIGCONT to freeze and thaw it. Returns false when
 * the container is not running.
 */
export async function signalContainer(
  nodes: RealNodes,
  namespace: string,
  pod: string,
  container: string,
  signal: NodeJS.Signals,
): Promise<boolean> {
  const view = JSON.parse(await kubectl(['get', 'pod', pod, '-n', namespace, '-o', 'json']).catch(() => '{}')) as {
    spec?: { nodeName?: string };
    status?: { containerStatuses?: { name: string; containerID?: string; state?: { running?: unknown } }[] };
  };
  const status = view.status?.containerStatuses?.find((c) => c.name === container);
  const id = status?.containerID?.replace(/^containerd:\/\//, '');
  if (!id || !status?.state?.running || !view.spec?.nodeName) return false;
  const pid = await nodes.byName(view.spec.nodeName).containerPid(id);
  if (!pid) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

export interface LeaseView {
  holder: string;
  transitions: number;
  renewTime: string;
  acquireTime: string;
}

export async function leaderLease(): Promise<LeaseView> {
  const l = JSON.parse(await kubectl(['get', 'lease', 'checkpoint-operator-leader', '-n', OPERATOR_NS, '-o', 'json']));
  return {
    holder: l.spec.holderIdentity ?? '',
    transitions: l.spec.leaseTransitions ?? 0,
    renewTime: l.spec.renewTime,
    acquireTime: l.spec.acquireTime,
  };
}

export async function operatorPods(): Promise<string[]> {
  const out = await kubectl([
    'get',
    'pods',
    '-n',
    OPERATOR_NS,
    '-l',
    'control-plane=controller-manager',
    '-o',
    'jsonpath={.items[*].metadata.name}',
  ]);
  return out.split(/\s+/).filter(Boolean);
}

/** Running checkpoint Job pods working for Checkpoints of one namespace. */
export async function runningJobPods(namespace: string): Promise<string[]> {
  const out = await kubectl([
    'get',
    'pods',
    '-n',
    OPERATOR_NS,
    '-l',
    `checkpoint.example.com/owner-namespace=${namespace},checkpoint.example.com/action=checkpoint`,
    '--field-selector',
    'status.phase=Running',
    '-o',
    'jsonpath={.items[*].metadata.name}',
  ]);
  return out.split(/\s+/).filter(Boolean);
}

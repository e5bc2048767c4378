import { microTime } from '../../../src/kube/micro-time.js';
import { CoordinationV1Api, CoreV1Api, type KubeConfig, PatchStrategy, setHeaderOptions, type V1NodeCondition } from '@kubernetes/client-node';

export interface NodeRegistration {
  stop(): void;
}

const HEARTBEAT_MS = 10_000;

/**
 * Registers a Node as a kubelet does, with the node's own identity, and keeps it alive: the Lease
 * in kube-node-lease is renewed and the Ready condition refreshed every 10 s, so the real
 * node-lifecycle controller never marks it NotReady or evicts its pods.
 */
export async function registerNode(kc: KubeConfig, node: { name: string; ip: string; kubeletPort: number; kubernetesVersion: string }): Promise<NodeRegistration> {
  const core = kc.makeApiClient(CoreV1Api);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const conditions = (now: Date): V1NodeCondition[] => [
    { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'simulated kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now },
    { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'ok', lastHeartbeatTime: now, lastTransitionTime: now },
    { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'ok', lastHeartbeatTime: now, lastTransitionTime: now },
    { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'ok', lastHeartbeatTime: now, lastTransitionTime: now },
  ];
  const status = (now: Date) => ({
    addresses: [{ type: 'InternalIP', address: node.ip }, { type: 'Hostname', address: node.name }],
    daemonEndpoints: { kubeletEndpoint: { Port: node.kubeletPort } },
    capacity: { cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' },
    allocatable: { cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' },
    conditions: conditions(now),
    nodeInfo: {
      machineID: node.name, systemUUID: node.name, bootID: `${node.name}-${process.pid}`,
      kernelVersion: 'simulated', osImage: 'checkpoint-sim', containerRuntimeVersion: 'checkpoint-sim://1.0',
      kubeletVersion: node.kubernetesVersion, kubeProxyVersion: '', operatingSystem: 'linux', architecture: 'amd64',
    },
  });
  const labels = { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'checkpoint-sim.test/simulated': 'true' };

  await core.deleteNode({ name: node.name }).catch(() => undefined);
  await core.createNode({ body: { metadata: { name: node.name, labels }, spec: {}, status: status(new Date()) } });
  // Create ignores status on some versions; write it through the subresource as the kubelet does.
  await patchStatus();

  const lease = async () => {
    const now = new Date();
    try {
      const current = await coordination.readNamespacedLease({ name: node.name, namespace: 'kube-node-lease' });
      const acquired = current.spec?.acquireTime ? new Date(current.spec.acquireTime).getTime() : now.getTime();
      current.spec = { holderIdentity: node.name, leaseDurationSeconds: 40, acquireTime: microTime(acquired) as never, renewTime: microTime(now.getTime()) as never };
      await coordination.replaceNamespacedLease({ name: node.name, namespace: 'kube-node-lease', body: current });
    } catch {
      await coordination.createNamespacedLease({
        namespace: 'kube-node-lease',
        body: { metadata: { name: node.name, namespace: 'kube-node-lease' }, spec: { holderIdentity: node.name, leaseDurationSeconds: 40, renewTime: microTime(now.getTime()) as never } },
      }).catch(() => undefined);
    }
  };
  async function patchStatus(): Promise<void> {
    await core.patchNodeStatus({ name: node.name, body: { status: status(new Date()) } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }
  await lease();
  const timer = setInterval(() => {
    void lease();
    void patchStatus().catch(() => undefined);
  }, HEARTBEAT_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

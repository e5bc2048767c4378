import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { ControlPlane } from '../control-plane.js';
import { writeKubeconfig } from '../kubeconfig.js';
import { issueClientCert, issueServingCert } from '../pki.js';
import { KubeletApi } from './kubelet-api.js';
import type { ClusterNetwork, NodeAttachment } from '../network/cluster-network.js';
import { PodRunner } from './pod-runner.js';
import { HostPathProvisioner } from './pv-provisioner.js';
import { registerNode, type NodeRegistration } from './registration.js';

export const KUBELET_PORT = 10250;

export interface SimulatedNode {
  name: string;
  ip: string;
  root: string;
  kubelet: KubeletApi;
  runner: PodRunner;
}

export interface SimulatedNodes {
  nodes: SimulatedNode[];
  stop(): Promise<void>;
}

/**
 * The one simulated part of the local cluster: nodes that register, run their pods as local
 * processes and serve the kubelet checkpoint API at their own addresses. See DESIGN §3.
 */
export async function startSimulatedNodes(cp: ControlPlane, network: ClusterNetwork, opts: { count?: number; imageDir: string; kubernetesVersion: string; defaultMemoryBytes?: number; runtimeRequestTimeoutSeconds?: number }): Promise<SimulatedNodes> {
  const admin = new KubeConfig();
  admin.loadFromFile(cp.kubeconfigPath);
  const adminCore = admin.makeApiClient(CoreV1Api);
  const provisioner = new HostPathProvisioner(admin, join(cp.dir, 'volumes'));
  await provisioner.start();
  const started: { node: SimulatedNode; network: NodeAttachment; registration: NodeRegistration }[] = [];
  const stop = async () => {
    for (const s of started) {
      s.registration.stop();
      await s.node.kubelet.stop();
      await s.node.runner.stop();
      await s.network.destroy();
    }
    await provisioner.stop();
  };
  try {
    const ca = await readFile(cp.pki.caCert);
    for (let i = 0; i < (opts.count ?? 2); i++) {
      const name = `node-${String.fromCharCode(97 + i)}`;
      const attachment = await network.attachNode(i);
      const root = join(cp.dir, 'nodes', name);
      await mkdir(join(root, 'var/lib/kubelet/checkpoints'), { recursive: true, mode: 0o700 });
      const identity = await issueClientCert(cp.pki, `kubelet-${name}`, { cn: `system:node:${name}`, groups: ['system:nodes'] });
      const serving = await issueServingCert(cp.pki, `kubelet-serving-${name}`, name, { ips: [attachment.nodeIP], dns: [name] });
      const kcPath = await writeKubeconfig(join(cp.dir, `kubelet-${name}.kubeconfig`), cp.server, cp.pki.caCert, identity, `system:node:${name}`);
      const kc = new KubeConfig();
      kc.loadFromFile(kcPath);
      const registration = await registerNode(kc, { name, ip: attachment.nodeIP, kubeletPort: KUBELET_PORT, kubernetesVersion: opts.kubernetesVersion });
      const runner = new PodRunner({ nodeName: name, nodeIP: attachment.nodeIP, nodeRoot: root, netns: attachment.netns, apiserver: new URL(cp.server), imageDir: opts.imageDir, kubeConfig: kc, admin: adminCore });
      const kubelet = new KubeletApi({
        nodeName: name, nodeIP: attachment.nodeIP, netns: attachment.netns, port: KUBELET_PORT, nodeRoot: root,
        tls: { cert: await readFile(serving.cert), key: await readFile(serving.key), ca },
        kubeConfig: kc, runner, defaultMemoryBytes: opts.defaultMemoryBytes ?? 4 * 1024 * 1024,
        // Short, so timeout tests finish quickly; real kubelets default to 120 s.
        runtimeRequestTimeoutSeconds: opts.runtimeRequestTimeoutSeconds ?? 3,
      });
      const node = { name, ip: attachment.nodeIP, root, kubelet, runner };
      started.push({ node, network: attachment, registration });
      await runner.start();
      await kubelet.start();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes: started.map((s) => s.node), stop };
}

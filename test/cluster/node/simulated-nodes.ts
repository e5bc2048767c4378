import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { ControlPlane } from '../control-plane.js';
import { writeKubeconfig } from '../kubeconfig.js';
import { issueClientCert, issueServingCert } from '../pki.js';
import { KubeletApi } from './kubelet-api.js';
import { forwardLoopbackIntoNetns } from './loopback-forwarder.js';
import { createNodeNetwork, type NodeNetwork } from './network.js';
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
  /** Makes a loopback service of this machine reachable from pods at the same 127.0.0.1:port. */
  exposeToPods(port: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The one simulated part of the local cluster: nodes that register, run their pods as local
 * processes and serve the kubelet checkpoint API at their own addresses. See DESIGN §3.
 */
export async function startSimulatedNodes(cp: ControlPlane, opts: { count?: number; imageDir: string; kubernetesVersion: string; defaultMemoryBytes?: number; runtimeRequestTimeoutSeconds?: number }): Promise<SimulatedNodes> {
  const admin = new KubeConfig();
  admin.loadFromFile(cp.kubeconfigPath);
  const adminCore = admin.makeApiClient(CoreV1Api);
  const provisioner = new HostPathProvisioner(admin, join(cp.dir, 'volumes'));
  await provisioner.start();
  const started: { node: SimulatedNode; network: NodeNetwork; registration: NodeRegistration }[] = [];
  const forwarders: { close(): Promise<void> }[] = [];
  const stop = async () => {
    for (const f of forwarders) await f.close();
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
      const network = await createNodeNetwork(i);
      const root = join(cp.dir, 'nodes', name);
      await mkdir(join(root, 'var/lib/kubelet/checkpoints'), { recursive: true, mode: 0o700 });
      const identity = await issueClientCert(cp.pki, `kubelet-${name}`, { cn: `system:node:${name}`, groups: ['system:nodes'] });
      const serving = await issueServingCert(cp.pki, `kubelet-serving-${name}`, name, { ips: [network.nodeIP], dns: [name] });
      const kcPath = await writeKubeconfig(join(cp.dir, `kubelet-${name}.kubeconfig`), cp.server, cp.pki.caCert, identity, `system:node:${name}`);
      const kc = new KubeConfig();
      kc.loadFromFile(kcPath);
      forwarders.push(await forwardLoopbackIntoNetns(network.netns, cp.apiserverPort));
      const registration = await registerNode(kc, { name, ip: network.nodeIP, kubeletPort: KUBELET_PORT, kubernetesVersion: opts.kubernetesVersion });
      const runner = new PodRunner({ nodeName: name, nodeIP: network.nodeIP, nodeRoot: root, netns: network.netns, apiserverPort: cp.apiserverPort, imageDir: opts.imageDir, kubeConfig: kc, admin: adminCore });
      const kubelet = new KubeletApi({
        nodeName: name, nodeIP: network.nodeIP, netns: network.netns, port: KUBELET_PORT, nodeRoot: root,
        tls: { cert: await readFile(serving.cert), key: await readFile(serving.key), ca },
        kubeConfig: kc, runner, defaultMemoryBytes: opts.defaultMemoryBytes ?? 4 * 1024 * 1024,
        // Short, so timeout tests finish quickly; real kubelets default to 120 s.
        runtimeRequestTimeoutSeconds: opts.runtimeRequestTimeoutSeconds ?? 3,
      });
      const node = { name, ip: network.nodeIP, root, kubelet, runner };
      started.push({ node, network, registration });
      await runner.start();
      await kubelet.start();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes: started.map((s) => s.node),
    async exposeToPods(port: number) {
      for (const s of started) forwarders.push(await forwardLoopbackIntoNetns(s.network.netns, port));
    },
    stop,
  };
}

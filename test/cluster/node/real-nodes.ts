import type { ControlPlane } from '../control-plane.js';
import type { ClusterNetwork } from '../network/cluster-network.js';
import { CLUSTER_IMAGES } from '../images/cluster-images.js';
import { type RealNode, reapStaleNodeCgroups, startRealNode } from './real-node.js';
import { RESTORE_NODE_LABEL } from '../../../src/dispatcher/runtime-support.js';

/**
 * What each node of the local cluster is, so both sides of what users meet are on hand:
 *
 * - node-a: kubelet serving certificate signed by the cluster CA (serverTLSBootstrap, its CSR
 *   approved), containerd restoring checkpoint images through CreateContainer: a node set up for
 *   checkpoint and restore.
 * - node-b: the kubelet's own self-signed serving certificate and containerd's defaults (restore
 *   off), as a fresh kubeadm or kind node is.
 */
export const NODE_PROFILES = [
  { name: 'node-a', servingCertificate: 'cluster-ca', restoreViaCreate: true },
  { name: 'node-b', servingCertificate: 'self-signed', restoreViaCreate: false },
] as const;

export const CLUSTER_CIDR = '10.244.0.0/16';

export interface RealNodes {
  nodes: RealNode[];
  byName(name: string): RealNode;
  stop(): Promise<void>;
}

export async function startRealNodes(
  cp: ControlPlane,
  network: ClusterNetwork,
  opts: { count?: number; registryHost: string; log?: (line: string) => void },
): Promise<RealNodes> {
  const log = opts.log ?? (() => undefined);
  await reapStaleNodeCgroups();
  const nodes: RealNode[] = [];
  const approver = approveServingCsrs(cp);
  const stop = async () => {
    approver.stop();
    for (const n of [...nodes].reverse()) await n.stop();
  };
  try {
    const count = opts.count ?? NODE_PROFILES.length;
    for (let i = 0; i < count; i++) {
      const profile = NODE_PROFILES[i % NODE_PROFILES.length]!;
      const name = i < NODE_PROFILES.length ? profile.name : `node-${String.fromCharCode(97 + i)}`;
      const podCIDR = `10.244.${i}.0/24`;
      const attachment = await network.attachNode(i, podCIDR);
      nodes.push(
        await startRealNode({
          name,
          controlPlane: cp,
          attachment,
          binaries: cp.binaries,
          registryHost: opts.registryHost,
          podCIDR,
          clusterCIDR: CLUSTER_CIDR,
          restoreViaCreate: profile.restoreViaCreate,
          servingCertificate: profile.servingCertificate,
          sandboxImage: CLUSTER_IMAGES.pause,
        }),
      );
      log(
        `node ${name} at ${attachment.nodeIP}: kubelet ${profile.servingCertificate === 'cluster-ca' ? 'with a CA-signed' : 'with a self-signed'} serving certificate, restore through CreateContainer ${profile.restoreViaCreate ? 'on' : 'off'}`,
      );
    }
    await waitReady(cp, nodes);
    // As the administrator who turned containerd's restore through CreateContainer on says so:
    // the node reports its containerd version, not that setting (see runtime-support.ts).
    for (const [i, n] of nodes.entries()) {
      if (NODE_PROFILES[i % NODE_PROFILES.length]!.restoreViaCreate)
        await cp.kubectl(['label', 'node', n.name, `${RESTORE_NODE_LABEL}=enabled`, '--overwrite']);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes,
    byName(name) {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new Error(`no node ${name}`);
      return n;
    },
    stop,
  };
}

async function waitReady(cp: ControlPlane, nodes: RealNode[]): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const out = await cp.kubectl(['get', 'nodes', '-o', 'json'], { allowFailure: true });
    const items =
      out.code === 0
        ? (
            JSON.parse(out.stdout) as {
              items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[];
            }
          ).items
        : [];
    const ready = new Set(
      items
        .filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
        .map((n) => n.metadata.name),
    );
    if (nodes.every((n) => ready.has(n.name))) return;
    for (const n of nodes) {
      for (const p of [n.containerd(), n.kubelet(), n.kubeProxy()]) {
        if (p.hasExited()) throw new Error(`${n.name}: ${p.name} exited (${await p.exited}):\n${await p.logTail(40)}`);
      }
    }
    if (Date.now() > deadline) {
      const waiting = nodes.filter((n) => !ready.has(n.name));
      throw new Error(
        `nodes not Ready within 180 s: ${waiting.map((n) => n.name).join(', ')}\n${(await Promise.all(waiting.map((n) => n.kubelet().logTail(40)))).join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Approves the kubelet-serving CSRs of this cluster's nodes, as an administrator (or a CSR
 * approver such as kubelet-csr-approver) does on clusters with serverTLSBootstrap: the
 * controller-manager then signs them with the cluster CA. Only CSRs of system:node:<name> for
 * the signer kubernetes.io/kubelet-serving are approved.
 */
function approveServingCsrs(cp: ControlPlane): { stop(): void } {
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      const out = await cp.kubectl(['get', 'csr', '-o', 'json'], { allowFailure: true });
      if (out.code === 0) {
        const csrs = (
          JSON.parse(out.stdout) as {
            items: {
              metadata: { name: string };
              spec: { signerName: string; username: string };
              status?: { conditions?: unknown[] };
            }[];
          }
        ).items;
        for (const csr of csrs) {
          if (
            csr.spec.signerName !== 'kubernetes.io/kubelet-serving' ||
            !csr.spec.username.startsWith('system:node:') ||
            (csr.status?.conditions ?? []).length > 0
          )
            continue;
          await cp.kubectl(['certificate', 'approve', csr.metadata.name], { allowFailure: true });
        }
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  void loop();
  return {
    stop: () => {
      stopped = true;
    },
  };
}

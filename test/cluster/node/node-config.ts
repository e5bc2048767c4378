import { stringify } from 'yaml';

/**
 * The configuration files of one real node: containerd's, the CNI network's, the kubelet's and
 * kube-proxy's. Pure functions of the node's settings, so what a node runs with can be read here
 * in one place.
 */
export interface NodeSettings {
  name: string;
  ip: string;
  /** This node's pods' addresses (a /24 of 10.244.0.0/16). */
  podCIDR: string;
  clusterCIDR: string;
  /** The node's directory on this machine; its `var/` is the node's /var. */
  root: string;
  /** Directories on containerd's PATH: the shim, runc and CRIU. */
  runc: string;
  /** containerd restores a checkpoint image through CreateContainer (containerd 2.1–2.3, off by default). */
  restoreViaCreate: boolean;
  /** cgroup parent of every pod of this node (cgroupfs driver, one path per node). */
  cgroupRoot: string;
  /** The kubelet serving certificate: its own self-signed one (kubeadm's and kind's default), or one the cluster CA signs through a CSR. */
  servingCertificate: 'self-signed' | 'cluster-ca';
  /** The cluster CA, which the kubelet trusts for client certificates. */
  caFile: string;
  kubeletKubeconfig: string;
  kubeProxyKubeconfig: string;
  sandboxImage: string;
}

export const KUBELET_PORT = 10250;

/** containerd 2.x, config version 3: the CRI plugin over runc with CRIU, images from the cluster's registry. */
export function containerdConfig(s: NodeSettings): string {
  return `version = 3
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins.'io.containerd.cri.v1.runtime']
  # This machine's kernel does not let containerd lower oom_score_adj (no CAP_SYS_RESOURCE).
  restrict_oom_score_adj = true
  enable_criu = true
  enable_experimental_restore_via_create = ${s.restoreViaCreate}
  netns_mounts_under_state_dir = true

  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"

    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "${s.runc}"
        SystemdCgroup = false

  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "${s.root}/etc/cni/net.d"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"

  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "${s.sandboxImage}"

  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "${s.root}/etc/containerd/certs.d"
`;
}

/** The registries whose images nodes pull from the cluster's registry instead (see images/cluster-images.ts). */
export const MIRRORED_REGISTRIES = ['registry.example.com', 'registry.k8s.io', 'docker.io'] as const;

/**
 * containerd's registry configuration (certs.d/<host>/hosts.toml, one directory per registry):
 * the cluster's registry over plain HTTP, and the names pods use (`registry.example.com/...`,
 * `registry.k8s.io/pause`, `docker.io/library/busybox`) served from it. Other registries get
 * containerd's defaults (HTTPS) unless a test adds a directory for them (RealNode.trustRegistry).
 */
export function registryHosts(registryHost: string): Record<string, string> {
  const toCluster = `server = "http://${registryHost}"\n`;
  return {
    [registryHost]: toCluster,
    ...Object.fromEntries(MIRRORED_REGISTRIES.map((r) => [r, toCluster])),
  };
}

/** hosts.toml for one more registry: plain HTTP, or HTTPS verified against a CA file. */
export function registryHostToml(host: string, how: { plainHttp: true } | { caFile: string }): string {
  return 'plainHttp' in how
    ? `server = "http://${host}"\n`
    : `server = "https://${host}"\n\n[host."https://${host}"]\n  ca = "${how.caFile}"\n`;
}

/** A bridge in the node's namespace; pods get addresses from its /24 and route through the node. */
export function cniConfig(s: NodeSettings): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'local-cluster',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: s.podCIDR }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

export function kubeletConfig(s: NodeSettings): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: s.ip,
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: s.caFile } },
    authorization: { mode: 'Webhook' },
    // No tlsCertFile: the kubelet then makes a self-signed certificate, as on kubeadm and kind;
    // serverTLSBootstrap asks the cluster CA for one through a CSR instead.
    serverTLSBootstrap: s.servingCertificate === 'cluster-ca',
    containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
    // This machine: cgroup v1 without systemd.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupsPerQOS: false,
    cgroupRoot: s.cgroupRoot,
    enforceNodeAllocatable: [],
    failSwapOn: false,
    // Left at the machine's values: the node's mount namespace shows the kubelet the values it
    // expects (see real-node.ts), and nothing here may change the machine's sysctls.
    protectKernelDefaults: false,
    volumePluginDir: '/var/lib/kubelet/volume-plugins',
    clusterDomain: 'cluster.local',
    maxPods: 250,
    serializeImagePulls: false,
    // A test machine's disk is shared with everything else on it: evict nothing, collect no images.
    evictionHard: {
      'memory.available': '1Mi',
      'nodefs.available': '0%',
      'imagefs.available': '0%',
      'nodefs.inodesFree': '0%',
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    containerLogMaxSize: '10Mi',
    shutdownGracePeriod: '0s',
  });
}

export function kubeProxyConfig(s: NodeSettings): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'nftables',
    clientConnection: { kubeconfig: s.kubeProxyKubeconfig },
    hostnameOverride: s.name,
    clusterCIDR: s.clusterCIDR,
    bindAddress: s.ip,
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    // Zero leaves the machine-wide conntrack settings as they are.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
  });
}

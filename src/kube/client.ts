import { CoordinationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';

/** In a pod: the mounted ServiceAccount. Elsewhere: $KUBECONFIG or ~/.kube/config. */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

/**
 * The dispatcher's API calls go through LeanKubeClient (lean-client.ts, paths in paths.ts) and
 * its errors through errors.ts. client-node is kept where it earns its place, each for a reason:
 *
 * - `kubeConfig`: loading credentials (in-cluster token, kubeconfig files, exec plugins) and the
 *   Watch of informer.ts and metadata-watch.ts: client-node does these well and they are not
 *   per-Checkpoint calls.
 * - `core`: the one pod read at start-up that finds the Jobs' image (job-image.ts), made before
 *   any cache or lean client exists.
 * - `coordination`: the leader-election Lease (leader-election.ts), whose typed model keeps the
 *   lease's micro-time fields right.
 */
export interface KubeClients {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
}

export function makeClients(kubeConfig: KubeConfig): KubeClients {
  return {
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    coordination: kubeConfig.makeApiClient(CoordinationV1Api),
  };
}

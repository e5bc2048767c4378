import type { TestProject } from 'vitest/node';
import { startLocalCluster } from '../cluster/local-cluster.js';

/**
 * Starts one local cluster for the whole e2e run — control plane, CRDs, real nodes and the
 * operator installed from manifests/default — and stops it at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const cluster = await startLocalCluster({
    operator: true,
    nodes: 3,
    sparePodPorts: 6,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const cp = cluster.controlPlane;
  process.stderr.write(
    `local cluster ready in ${((Date.now() - started) / 1000).toFixed(1)}s at ${cp.server} (${cp.dir})\n`,
  );
  project.provide('kubeconfig', cluster.kubeconfigPath);
  project.provide('kubectl', cp.binaries.kubectl);
  project.provide('clusterDir', cp.dir);
  project.provide('imageDir', cluster.imageDir);
  project.provide('s3', {
    endpoint: cluster.s3!.endpoint,
    accessKeyId: cluster.s3!.accessKeyId,
    secretAccessKey: cluster.s3!.secretAccessKey,
  });
  project.provide('clusterHost', { ip: cluster.network.host.ip, netns: cluster.network.host.netns! });
  project.provide('sparePodPorts', cluster.sparePodPorts);
  project.provide('pushgatewayUrl', cluster.pushgateway!.url);
  project.provide('registryHost', cluster.registry!.host);
  project.provide('otlpEndpoint', cluster.otlp!.endpoint);
  project.provide('otlpQueryUrl', cluster.otlp!.queryUrl);
  project.provide('pushgatewayPid', cluster.pushgateway!.process.pid);
  project.provide('otlpPid', cluster.otlp!.process.pid);
  return () => cluster.stop();
}

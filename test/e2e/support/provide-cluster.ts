import type { TestProject } from 'vitest/node';
import { type LocalClusterOptions, startLocalCluster } from '../../cluster/local-cluster.js';

/**
 * Starts a local cluster for a whole vitest project and hands its addresses to the test files
 * (see cluster-context.ts); returns the teardown. The e2e project installs the operator from
 * manifests/default; the install project starts without it and installs it as users do.
 */
export async function provideCluster(
  project: TestProject,
  opts: Omit<LocalClusterOptions, 'log'>,
): Promise<() => Promise<void>> {
  const started = Date.now();
  const cluster = await startLocalCluster({ ...opts, log: (line) => process.stderr.write(`${line}\n`) });
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
  project.provide('operatorImageDigest', cluster.operatorImageDigest!);
  return () => cluster.stop();
}

import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalCluster } from './local-cluster.js';
import { deploySampleWorkload, walkthrough } from './walkthrough.js';

/**
 * `npm run local`: brings up the local cluster — control plane, CRDs, two real nodes (kubelet, containerd, runc, CRIU), the
 * operator installed from manifests/default — walks through a checkpoint, a retention sweep and a
 * restore of a sample workload, prints how to reach everything, and stays up until Ctrl-C, which
 * tears everything down. `--no-walkthrough` skips the tour; `--exit-after-walkthrough` stops
 * after it (exit code 1 if it failed).
 */
const started = Date.now();
const say = (line: string) =>
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
say(
  'starting the local cluster (etcd, kube-apiserver, controller-manager, scheduler; two nodes of kubelet, containerd, runc and CRIU)…',
);
const cluster = await startLocalCluster({ operator: true, log: say });
const cp = cluster.controlPlane;

if (cluster.s3) {
  const s3 = new S3Client({
    endpoint: cluster.s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: cluster.s3.accessKeyId, secretAccessKey: cluster.s3.secretAccessKey },
  });
  await s3.send(new CreateBucketCommand({ Bucket: 'checkpoints' }));
  s3.destroy();
  say(`bucket "checkpoints" created in the local S3 (MinIO) at ${cluster.s3.endpoint}`);
}
// The tour: checkpoint, retention, restore, with what happened and where things are.
const kubectl = async (args: string[], input?: string) =>
  (await cp.kubectl(args, input === undefined ? {} : { input })).stdout;
await deploySampleWorkload(kubectl);
say('sample workload running: pod default/my-app-pod-0, container main');
if (!process.argv.includes('--no-walkthrough')) {
  say('walk-through: checkpoint, retention sweep, restore');
  try {
    await walkthrough({ kubectl, say, clusterDir: cp.dir });
    say('walk-through done');
  } catch (err) {
    say(`walk-through failed: ${(err as Error).message}`);
    if (process.argv.includes('--exit-after-walkthrough')) {
      await cluster.stop();
      process.exit(1);
    }
  }
}
if (process.argv.includes('--exit-after-walkthrough')) {
  await cluster.stop();
  process.exit(0);
}
process.stdout.write(`
The operator is running. Try it:

  export KUBECONFIG=${cluster.kubeconfigPath}
  alias kubectl=${cp.binaries.kubectl}
  kubectl apply -f manifests/samples/example-checkpoint-policy.yaml
  kubectl apply -f manifests/samples/checkpoint-local.yaml      # archive on the node
  # the seed example, its S3 endpoint pointed at the local MinIO:
  sed 's#"s3.example.com"#"${cluster.s3?.endpoint ?? 's3.example.com'}"#' manifests/samples/example-checkpoint.yaml | kubectl apply -f -
  kubectl get ckpt -w
  kubectl describe ckpt my-app-checkpoint-local
  # restore the pod from a Succeeded Checkpoint (the image goes to the local registry):
  kubectl annotate pod my-app-pod-0 checkpoint.example.com/restore-from=my-app-checkpoint-local
  kubectl get pod my-app-pod-0 -o jsonpath='{.metadata.annotations}'; echo
  kubectl logs -l control-plane=controller-manager -n checkpoint-operator-system

S3 (MinIO): ${cluster.s3?.endpoint ?? 'not started'}, access key ${cluster.s3?.accessKeyId ?? '-'} (secret in Secret checkpoint-operator-s3-credentials)
OCI registry (checkpoint images): ${cluster.registry ? `http://${cluster.registry.host}/v2/checkpoints/tags/list` : 'not started'}
Traces (Jaeger query API): ${cluster.otlp ? `${cluster.otlp.queryUrl}/api/traces?service=checkpoint-operator` : 'not started'}
Pushgateway: ${cluster.pushgateway?.url ?? 'not started'}
Cluster files (certificates, component logs, node roots): ${cp.dir}
Ctrl-C stops everything.
`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  say('stopping the local cluster…');
  await cluster.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
setInterval(() => undefined, 1 << 30);

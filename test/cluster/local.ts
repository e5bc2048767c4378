import { startLocalCluster } from './local-cluster.js';

/**
 * `npm run local`: brings up the local cluster with the CRDs installed, prints how to reach it,
 * and stays up until Ctrl-C, which tears everything down.
 */
const started = Date.now();
process.stdout.write('starting the local cluster (real etcd, kube-apiserver, controller-manager, scheduler)…\n');
const cluster = await startLocalCluster();
const seconds = ((Date.now() - started) / 1000).toFixed(1);
process.stdout.write(`
local cluster ready in ${seconds}s at ${cluster.controlPlane.server}
CRDs installed: checkpoints.checkpoint.example.com, checkpointpolicies.checkpoint.example.com

  export KUBECONFIG=${cluster.kubeconfigPath}
  kubectl apply -f manifests/samples/example-checkpoint-policy.yaml
  kubectl apply -f manifests/samples/example-checkpoint.yaml
  kubectl get ckptpol,ckpt

kubectl is at ${cluster.controlPlane.binaries.kubectl}
Logs: ${cluster.controlPlane.dir}/*.log    Ctrl-C stops everything.
`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nstopping the local cluster…\n');
  await cluster.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
setInterval(() => undefined, 1 << 30);

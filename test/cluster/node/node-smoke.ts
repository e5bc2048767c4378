import { startLocalCluster } from '../local-cluster.js';

const cluster = await startLocalCluster({ operator: true, log: (l) => console.log(l) });
const k = (args: string[], input?: string) => cluster.controlPlane.kubectl(args, input ? { input, allowFailure: true } : { allowFailure: true });
try {
  console.log((await k(['get', 'nodes', '-o', 'wide'])).stdout);
  console.log((await k(['get', 'pods', '-A', '-o', 'wide'])).stdout);
  await k(['apply', '-f', '-'], `
apiVersion: v1
kind: Pod
metadata: { name: my-app-pod-0, namespace: default }
spec:
  containers:
  - { name: main, image: busybox, command: [sh, -c, 'echo started; sleep 3600'] }
`);
  await k(['wait', '--for=condition=Ready', 'pod/my-app-pod-0', '--timeout=60s']);
  await k(['apply', '-f', '-'], `
apiVersion: checkpoint.example.com/v1alpha1
kind: Checkpoint
metadata: { name: smoke, namespace: default }
spec:
  target: { podName: my-app-pod-0 }
  storage: { backend: local, local: { path: /var/lib/checkpoint-operator/archives } }
`);
  for (let i = 0; i < 30; i++) {
    const r = await k(['get', 'ckpt', 'smoke', '-o', 'jsonpath={.status.phase} {.status.reason} {.status.message}']);
    console.log(r.stdout, r.stderr);
    if (/^(Succeeded|Failed)/.test(r.stdout)) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  console.log((await k(['get', 'ckpt', '-A'])).stdout);
  console.log((await k(['get', 'jobs,pods', '-A'])).stdout);
  console.log((await k(['logs', '-n', 'checkpoint-operator-system', '-l', 'control-plane=controller-manager', '--tail=20'])).stdout);
} finally {
  if (process.env.KEEP_CLUSTER !== '1') await cluster.stop();
}

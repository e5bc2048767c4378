import { startLocalCluster } from './local-cluster.js';

const t0 = Date.now();
const say = (l: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${l}`);
const cluster = await startLocalCluster({ operator: process.argv.includes('--operator'), log: say });
const k = async (args: string[], input?: string) => {
  const r = await cluster.controlPlane.kubectl(args, input ? { input, allowFailure: true } : { allowFailure: true });
  return r.stdout + r.stderr;
};
try {
  say(await k(['get', 'nodes', '-o', 'wide']));
  say(await k(['get', 'pods', '-A', '-o', 'wide']));
  await k(['apply', '-f', '-'], `
apiVersion: v1
kind: Pod
metadata: { name: counter, namespace: default }
spec:
  nodeSelector: { kubernetes.io/hostname: node-a }
  containers:
  - { name: main, image: registry.example.com/sample-app:1.0, env: [{ name: ALLOC_MIB, value: "${process.env.ALLOC_MIB ?? '0'}" }] }
`);
  say(await k(['wait', '--for=condition=Ready', 'pod/counter', '--timeout=120s']));
  say(await k(['get', 'pods', '-A', '-o', 'wide']));
  say(await k(['logs', 'counter']));
  say(await k(['exec', 'counter', '--', 'wget', '-qO-', 'http://127.0.0.1:8080/']));
  say(await k(['get', '--raw', '/api/v1/namespaces/default/pods/counter:8080/proxy/']));
  const t = Date.now();
  say(await k(['create', '--raw', '/api/v1/nodes/node-a/proxy/checkpoint/default/counter/main', '-f', '-'], '{}'));
  say(`checkpoint took ${Date.now() - t} ms`);
  if (process.argv.includes('--operator')) {
    await k(['apply', '-f', '-'], `
apiVersion: checkpoint.example.com/v1alpha1
kind: Checkpoint
metadata: { name: smoke, namespace: default }
spec:
  target: { podName: counter }
  storage: { backend: local, local: { path: /var/lib/checkpoint-operator/archives } }
`);
    for (let i = 0; i < 60; i++) {
      const r = await k(['get', 'ckpt', 'smoke', '-o', 'jsonpath={.status.phase} {.status.reason} {.status.message}']);
      say(r);
      if (/^(Succeeded|Failed)/.test(r)) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    say(await k(['get', 'ckpt', 'smoke', '-o', 'yaml']));
    say(await k(['get', 'jobs,pods', '-A', '-o', 'wide']));
    say(await k(['exec', 'counter', '--', 'wget', '-qO-', 'http://127.0.0.1:8080/']));
    await k(['annotate', 'pod', 'counter', 'checkpoint.example.com/restore-from=smoke']);
    for (let i = 0; i < 60; i++) {
      const r = await k(['get', 'pod', 'counter', '-o', 'jsonpath={.metadata.annotations}']);
      say(r);
      if (/restore-status":"(Succeeded|Failed)/.test(r)) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    await new Promise((r) => setTimeout(r, 5000));
    say(await k(['get', 'pod', 'counter', '-o', 'yaml']));
    say(await k(['exec', 'counter', '--', 'wget', '-qO-', 'http://127.0.0.1:8080/']));
    say(await k(['logs', 'counter']));
    say(await k(['logs', '-n', 'checkpoint-operator-system', '-l', 'control-plane=controller-manager', '--tail=30']));
  }
} finally {
  if (process.env.KEEP_CLUSTER !== '1') await cluster.stop();
  else { say(`kept: ${cluster.controlPlane.dir} (Ctrl-C stops)`); await new Promise(() => undefined); }
}

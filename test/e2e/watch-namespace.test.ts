import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../cluster/ports.js';
import { clusterContext } from './support/cluster-context.js';
import { getCheckpoint, waitForTerminal } from './support/checkpoints.js';
import { kubectl } from './support/kube.js';

const OPERATOR_NS = 'checkpoint-operator-system';
const WATCHED = 'watch-a';
const IGNORED = 'watch-b';
/** The dispatcher build the cluster runs. */
const manager = () => join(clusterContext().imageDir, 'manager.js');

const checkpoint = (namespace: string) => `apiVersion: checkpoint.example.com/v1alpha1
kind: Checkpoint
metadata: { name: probe, namespace: ${namespace} }
spec:
  target: { podName: no-such-pod }
  storage: { backend: local, local: { path: /var/lib/checkpoint-operator/archives } }
`;

/**
 * The installed operator watches every namespace; here it is scaled to zero and the built
 * dispatcher runs as a process with WATCH_NAMESPACE set, to show what it leaves alone.
 */
describe('WATCH_NAMESPACE', () => {
  let dispatcher: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    for (const ns of [WATCHED, IGNORED]) await kubectl(['create', 'namespace', ns]).catch(() => undefined);
    await kubectl(['scale', 'deployment/checkpoint-operator', '-n', OPERATOR_NS, '--replicas=0']);
    await kubectl([
      'wait',
      '--for=delete',
      'pod',
      '-l',
      'control-plane=controller-manager',
      '-n',
      OPERATOR_NS,
      '--timeout=60s',
    ]);
    dispatcher = spawn(process.execPath, [manager()], {
      env: {
        PATH: process.env.PATH,
        KUBECONFIG: clusterContext().kubeconfig,
        WATCH_NAMESPACE: WATCHED,
        POD_NAMESPACE: OPERATOR_NS,
        JOB_IMAGE: 'registry.example.com/checkpoint-operator:v1.0.0',
        METRICS_PORT: String(await freePort()),
        HEALTH_PROBE_PORT: String(await freePort()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    dispatcher.stdout!.on('data', (c: Buffer) => {
      output += c.toString();
    });
    dispatcher.stderr!.on('data', (c: Buffer) => {
      output += c.toString();
    });
  });

  afterAll(async () => {
    dispatcher?.kill('SIGTERM');
    await kubectl(['scale', 'deployment/checkpoint-operator', '-n', OPERATOR_NS, '--replicas=2']);
    await kubectl(['rollout', 'status', 'deployment/checkpoint-operator', '-n', OPERATOR_NS, '--timeout=120s']);
  });

  it('reconciles Checkpoints in the listed namespaces only', async () => {
    await kubectl(['apply', '-f', '-'], checkpoint(IGNORED));
    await kubectl(['apply', '-f', '-'], checkpoint(WATCHED));
    const watched = await waitForTerminal(WATCHED, 'probe', 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${output}`);
    });
    expect(watched.status?.conditions?.find((c) => c.type === 'Succeeded')?.reason).toBe('PodNotFound');
    // The ignored one was created first; give the dispatcher more time than it took for the other.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await getCheckpoint(IGNORED, 'probe')).status).toBeUndefined();
    expect(output).toContain(WATCHED);
  });
});

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { API_GROUP, API_VERSION, CHECKPOINT_PLURAL } from '../../../src/api/constants.js';
import type { Checkpoint } from '../../../src/api/checkpoint.js';
import { customObjects, kubectl } from './kube.js';

export async function getCheckpoint(namespace: string, name: string): Promise<Checkpoint> {
  return await customObjects().getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: CHECKPOINT_PLURAL, namespace, name }) as Checkpoint;
}

/** Polls until the Checkpoint is Succeeded or Failed (a test asserts which). */
export async function waitForTerminal(namespace: string, name: string, timeoutMs = 90_000): Promise<Checkpoint> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await getCheckpoint(namespace, name).catch(() => undefined);
    if (c?.status?.phase === 'Succeeded' || c?.status?.phase === 'Failed') return c;
    if (Date.now() > deadline) throw new Error(`Checkpoint ${namespace}/${name} not terminal after ${timeoutMs / 1000}s: ${JSON.stringify(c?.status)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function waitForPhase(namespace: string, name: string, phase: string, timeoutMs = 60_000): Promise<Checkpoint> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await getCheckpoint(namespace, name).catch(() => undefined);
    if (c?.status?.phase === phase) return c;
    if (Date.now() > deadline) throw new Error(`Checkpoint ${namespace}/${name} never reached ${phase}: ${JSON.stringify(c?.status)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Events recorded on an object, as `kubectl describe` lists them. */
export async function eventsFor(namespace: string, name: string): Promise<{ type: string; reason: string; message: string }[]> {
  const out = JSON.parse(await kubectl(['get', 'events', '-n', namespace, '--field-selector', `involvedObject.name=${name}`, '-o', 'json']));
  return out.items.map((e: { type: string; reason: string; message: string }) => ({ type: e.type, reason: e.reason, message: e.message }));
}

/** A workload pod the simulated nodes run (any image runs its command on the host). */
export function workloadPod(namespace: string, name: string, opts: { containers?: string[]; annotations?: Record<string, string>; nodeName?: string; imagePullSecrets?: string[] } = {}): string {
  const containers = (opts.containers ?? ['main']).map((c) => `  - { name: ${c}, image: registry.example.com/sample-app:1.0, command: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 1; done'] }`).join('\n');
  const annotations = Object.entries(opts.annotations ?? {}).map(([k, v]) => `    ${k}: "${v}"`).join('\n');
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${namespace}
${annotations ? `  annotations:\n${annotations}\n` : ''}spec:
  terminationGracePeriodSeconds: 2
${opts.nodeName ? `  nodeName: ${opts.nodeName}\n` : ''}${opts.imagePullSecrets ? `  imagePullSecrets: [${opts.imagePullSecrets.map((n) => `{ name: ${n} }`).join(', ')}]\n` : ''}  containers:
${containers}
`;
}

export async function runWorkload(namespace: string, name: string, opts: Parameters<typeof workloadPod>[2] = {}): Promise<void> {
  await kubectl(['apply', '-f', '-'], workloadPod(namespace, name, opts));
  await kubectl(['wait', '--for=condition=Ready', `pod/${name}`, '-n', namespace, '--timeout=60s']);
}

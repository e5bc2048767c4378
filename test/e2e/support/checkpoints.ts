import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { API_GROUP, API_VERSION, CHECKPOINT_PLURAL } from '../../../src/api/constants.js';
import type { Checkpoint } from '../../../src/api/checkpoint.js';
import { customObjects, kubectl } from './kube.js';
import { CHECKPOINT_NODE } from './nodes.js';

export async function getCheckpoint(namespace: string, name: string): Promise<Checkpoint> {
  return (await customObjects().getNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    plural: CHECKPOINT_PLURAL,
    namespace,
    name,
  })) as Checkpoint;
}

/** Polls until the Checkpoint is Succeeded or Failed (a test asserts which). */
export async function waitForTerminal(namespace: string, name: string, timeoutMs = 90_000): Promise<Checkpoint> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await getCheckpoint(namespace, name).catch(() => undefined);
    if (c?.status?.phase === 'Succeeded' || c?.status?.phase === 'Failed') return c;
    if (Date.now() > deadline)
      throw new Error(
        `Checkpoint ${namespace}/${name} not terminal after ${timeoutMs / 1000}s: ${JSON.stringify(c?.status)}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Waits until every named Checkpoint is Succeeded or Failed, by listing the namespace every 2 s:
 * one request however many there are, where a poller each would load the API server themselves.
 */
export async function waitForAllTerminal(namespace: string, names: string[], timeoutMs: number): Promise<Checkpoint[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = (await customObjects()
      .listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: CHECKPOINT_PLURAL, namespace })
      .catch(() => ({ items: [] }))) as { items: Checkpoint[] };
    const byName = new Map(list.items.map((c) => [c.metadata.name!, c]));
    const terminal = names
      .map((n) => byName.get(n))
      .filter((c) => c?.status?.phase === 'Succeeded' || c?.status?.phase === 'Failed');
    if (terminal.length === names.length) return terminal as Checkpoint[];
    if (Date.now() > deadline)
      throw new Error(
        `${names.length - terminal.length} of ${names.length} Checkpoints in ${namespace} not terminal after ${timeoutMs / 1000}s`,
      );
    await new Promise((r) => setTimeout(r, 2000));
  }
}

export async function waitForPhase(
  namespace: string,
  name: string,
  phase: string,
  timeoutMs = 60_000,
): Promise<Checkpoint> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await getCheckpoint(namespace, name).catch(() => undefined);
    if (c?.status?.phase === phase) return c;
    if (Date.now() > deadline)
      throw new Error(`Checkpoint ${namespace}/${name} never reached ${phase}: ${JSON.stringify(c?.status)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Events recorded on an object, as `kubectl describe` lists them. */
export async function eventsFor(
  namespace: string,
  name: string,
): Promise<{ type: string; reason: string; message: string }[]> {
  const out = JSON.parse(
    await kubectl(['get', 'events', '-n', namespace, '--field-selector', `involvedObject.name=${name}`, '-o', 'json']),
  );
  return out.items.map((e: { type: string; reason: string; message: string }) => ({
    type: e.type,
    reason: e.reason,
    message: e.message,
  }));
}

export interface WorkloadOptions {
  containers?: string[];
  annotations?: Record<string, string>;
  /** The node to run on (default CHECKPOINT_NODE); set through nodeName, as a test pins a pod. */
  nodeName?: string;
  imagePullSecrets?: string[];
  /** Memory each container holds (the counter's ALLOC_MIB): its checkpoint is about that large. */
  memoryMiB?: number;
  /**
   * What the containers do: 'counter' (default) counts in memory and serves the count on its
   * port (8080, 8081… per container); 'undumpable' also holds an io_uring instance, a file CRIU
   * cannot dump (the runtime's checkpoint fails in CRIU).
   */
  program?: 'counter' | 'undumpable';
}

/** The port the counter of a workload's container `index` serves its count on. */
export const counterPort = (index = 0) => 8080 + index;

/**
 * A workload pod of the test image (busybox and the counter program, test/cluster/images): each
 * container runs the counter, whose count and identity live only in its memory.
 */
export function workloadPod(namespace: string, name: string, opts: WorkloadOptions = {}): string {
  const containers = (opts.containers ?? ['main'])
    .map((c, i) => {
      const env = [
        `{ name: PORT, value: "${counterPort(i)}" }`,
        ...(opts.memoryMiB ? [`{ name: ALLOC_MIB, value: "${opts.memoryMiB}" }`] : []),
        ...(opts.program === 'undumpable' ? ['{ name: HOLD_IO_URING, value: "1" }'] : []),
      ];
      return `  - { name: ${c}, image: registry.example.com/sample-app:1.0, env: [${env.join(', ')}] }`;
    })
    .join('\n');
  const annotations = Object.entries(opts.annotations ?? {})
    .map(([k, v]) => `    ${k}: "${v}"`)
    .join('\n');
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${namespace}
${annotations ? `  annotations:\n${annotations}\n` : ''}spec:
  terminationGracePeriodSeconds: 2
  nodeName: ${opts.nodeName ?? CHECKPOINT_NODE}
${opts.imagePullSecrets ? `  imagePullSecrets: [${opts.imagePullSecrets.map((n) => `{ name: ${n} }`).join(', ')}]\n` : ''}  containers:
${containers}
`;
}

export async function runWorkload(namespace: string, name: string, opts: WorkloadOptions = {}): Promise<void> {
  await kubectl(['apply', '-f', '-'], workloadPod(namespace, name, opts));
  await kubectl(['wait', '--for=condition=Ready', `pod/${name}`, '-n', namespace, '--timeout=120s']);
}

import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/api/checkpoint.js';
import {
  API_GROUP,
  API_GROUP_VERSION,
  API_VERSION,
  CHECKPOINT_PLURAL,
  CHECKPOINT_POLICY_PLURAL,
  RESTORE_FROM_ANNOTATION,
  RESTORE_HANDLED_ANNOTATION,
  RESTORE_MESSAGE_ANNOTATION,
  RESTORE_STATUS_ANNOTATION,
  RESTORED_FROM_ANNOTATION,
} from '../../src/api/constants.js';
import { handledMarker } from '../../src/dispatcher/restores/decide.js';
import { CHECKPOINT_NODE_LABEL, RESTORE_NODE_LABEL } from '../../src/dispatcher/runtime-support.js';
import { freePort } from '../cluster/ports.js';
import { type BadInputResult, machine, writeSection } from '../reliability/report.js';
import { counterPort, getCheckpoint, waitForPhase, waitForTerminal } from './support/checkpoints.js';
import { clusterContext } from './support/cluster-context.js';
import { CHECKPOINT_NODE, DEFAULT_NODE, OTHER_CHECKPOINT_NODE } from './support/nodes.js';
import { stalledStorage } from './support/stalled-storage.js';
import { customObjects, kubeConfig, kubectl, refusal } from './support/kube.js';

/**
 * Bad input of every kind the operator takes — Checkpoints, CheckpointPolicies, the restore
 * annotation, its own configuration — and what each one ends in: a refusal by the API server
 * naming the field, a Failed Checkpoint (or a policy that is not Ready, or a refused restore) with
 * a one-word reason, a message and a Warning Event, or a dispatcher that will not start, with one
 * line and exit code 2. Objects are created in batches and then polled, so the dispatcher works
 * on all of them at once. Every case is written to docs/reliability.json (docs/RELIABILITY.md).
 */

const NS = 'bad-input';
const OTHER_NS = 'bad-input-other';
const OPERATOR_NS = 'checkpoint-operator-system';
/** The only node directory the installed operator lets the local backend write to (LOCAL_STORAGE_ROOTS). */
const LOCAL_ROOT = '/var/lib/checkpoint-operator';
const ARCHIVES = `${LOCAL_ROOT}/bad-input`;
const HOLD_FINALIZER = 'bad-input.test/hold';
/** Polls that wait for the dispatcher: generous, the machine is shared. */
const TERMINAL_MS = 240_000;

const { clusterDir, registryHost, s3 } = clusterContext();
const REPOSITORY = `${registryHost}/checkpoints`;
/** The dispatcher build the cluster runs, as manager-startup.test.ts starts it. */
const manager = () => join(clusterContext().imageDir, 'manager.js');
const run = promisify(execFile);

type Json = Record<string, unknown>;
type Category = BadInputResult['category'];

// ---------------------------------------------------------------------------------------------
// Recording: each case notes what it saw before asserting, so a case that does not hold is
// recorded with what happened instead.

const results: BadInputResult[] = [];
interface Seen {
  outcome: string;
  message: string;
}

async function recordCase(category: Category, title: string, body: (seen: Seen) => Promise<void>): Promise<void> {
  const seen: Seen = { outcome: 'no answer', message: '' };
  try {
    await body(seen);
    results.push({ category, case: title, outcome: seen.outcome, message: oneLine(seen.message), held: true });
  } catch (err) {
    results.push({
      category,
      case: title,
      outcome: seen.outcome,
      message: oneLine(seen.message || String((err as Error).message)),
      held: false,
    });
    throw err;
  }
}

/**
 * What the user reads, shortened for the report: on one line, without the API server's lead-in
 * ("Checkpoint.checkpoint.example.com "x" is invalid: ") and its note that other rules were not
 * checked, and with long runs of one character (the 254-character names) written as a count.
 */
function oneLine(text: string): string {
  return text
    .replace(/^[\w.]+ "[^"]*" is invalid: /, '')
    .replace(/, <nil>: Invalid value: null: some validation rules were not checked[^\]]*/, '')
    .replace(/^\[(.*)\]$/s, '$1')
    .replace(/(.)\1{11,}/g, (run, c: string) => `${c.repeat(3)}…(${run.length} × ${c})`)
    .replace(/\s*\n\s*/g, ' ')
    .slice(0, 400);
}
/** A reason is one CamelCase word. */
const ONE_WORD = /^[A-Z][A-Za-z0-9]+$/;

// ---------------------------------------------------------------------------------------------
// Objects.

const checkpoint = (name: string, spec: Json, namespace = NS): Json => ({
  apiVersion: API_GROUP_VERSION,
  kind: 'Checkpoint',
  metadata: { name, namespace },
  spec,
});
const policy = (name: string, spec: Json): Json => ({
  apiVersion: API_GROUP_VERSION,
  kind: 'CheckpointPolicy',
  metadata: { name },
  spec,
});
const local = (path: unknown = ARCHIVES) => ({ backend: 'local', local: { path } });
const target = (podName: unknown, more: Json = {}) => ({ podName, ...more });
/** A valid Checkpoint spec with one part replaced. */
const spec = (over: Json = {}): Json => ({ target: target('target'), storage: local(), ...over });
const s3Storage = (s3Fields: Json) => ({ backend: 's3', s3: { bucket: 'checkpoints', ...s3Fields } });
const pvcTemplate = (over: Json = {}) => ({
  accessModes: ['ReadWriteOnce'],
  resources: { requests: { storage: '1Gi' } },
  ...over,
});

async function create(object: Json, opts: { strict?: boolean } = {}): Promise<unknown> {
  const api = customObjects();
  const fieldValidation = opts.strict ? 'Strict' : undefined;
  const body = JSON.parse(JSON.stringify(object));
  return object.kind === 'Checkpoint'
    ? api.createNamespacedCustomObject({
        group: API_GROUP,
        version: API_VERSION,
        namespace: (object.metadata as { namespace: string }).namespace,
        plural: CHECKPOINT_PLURAL,
        body,
        fieldValidation,
      })
    : api.createClusterCustomObject({
        group: API_GROUP,
        version: API_VERSION,
        plural: CHECKPOINT_POLICY_PLURAL,
        body,
        fieldValidation,
      });
}

async function getPolicy(
  name: string,
): Promise<{ status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } }> {
  return (await customObjects().getClusterCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    plural: CHECKPOINT_POLICY_PLURAL,
    name,
  })) as never;
}

interface PodView {
  metadata: { annotations?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string; containers: { name: string; image: string }[] };
  status: { containerStatuses?: { name: string; restartCount: number }[] };
}

const core = () => kubeConfig().makeApiClient(CoreV1Api);
const getPod = async (name: string, namespace = NS) =>
  (await core().readNamespacedPod({ name, namespace })) as unknown as PodView;

/** A workload pod of the test image: every container runs the counter, on a port of its own. */
function pod(
  name: string,
  opts: {
    containers?: string[];
    namespace?: string;
    annotations?: Record<string, string>;
    unschedulable?: boolean;
    finalizer?: boolean;
    node?: string;
  } = {},
): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: opts.namespace ?? NS,
      labels: { 'bad-input.test/ready': opts.unschedulable ? 'never' : 'expected' },
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
      ...(opts.finalizer ? { finalizers: [HOLD_FINALIZER] } : {}),
    },
    spec: {
      terminationGracePeriodSeconds: 2,
      // No node carries this label: the pod stays Pending, on no node. Others go to the node
      // the operator checkpoints on in its default configuration.
      nodeSelector: opts.unschedulable
        ? { 'bad-input.test/nowhere': 'true' }
        : { 'kubernetes.io/hostname': opts.node ?? CHECKPOINT_NODE },
      containers: (opts.containers ?? ['main']).map((c, i) => ({
        name: c,
        image: 'registry.example.com/sample-app:1.0',
        env: [{ name: 'PORT', value: String(counterPort(i)) }],
      })),
    },
  };
}

async function applyAll(items: Json[]): Promise<void> {
  await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = TERMINAL_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Waits for a Warning Event with this reason on the named object (cluster-scoped objects' go to default). */
async function expectWarningEvent(namespace: string, name: string, reason: string): Promise<void> {
  await until(
    `Warning Event ${reason} on ${namespace}/${name}`,
    async () => {
      const events = await core().listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
      return events.items.some((e) => e.type === 'Warning' && e.reason === reason) ? true : undefined;
    },
    60_000,
  );
}

async function dispatcherRestarts(): Promise<number> {
  const pods = await core().listNamespacedPod({
    namespace: OPERATOR_NS,
    labelSelector: 'control-plane=controller-manager',
  });
  return pods.items.reduce(
    (n, p) => n + (p.status?.containerStatuses ?? []).reduce((m, s) => m + s.restartCount, 0),
    0,
  );
}

// ---------------------------------------------------------------------------------------------
// Refused by the API server: the status code, and a message naming the field.

interface RefusedCase {
  title: string;
  object: Json;
  field: string;
  strict?: boolean;
}

/** The field as the API server writes it: alone, or in a list, followed by ': ', a space or a quote. */
const namesField = (message: string, field: string) =>
  new RegExp(`(^|[\\s\\["])${field.replace(/[.[\]]/g, '\\$&')}(: |\\s|"|$)`).test(message);

async function expectRefused(category: Category, c: RefusedCase): Promise<void> {
  await recordCase(category, c.title, async (seen) => {
    const { code, message } = await refusal(create(c.object, { strict: c.strict }));
    seen.outcome = `rejected by the API server (${code})`;
    seen.message = message;
    // 400: strict decoding found a field the schema does not have; 422: the schema refused a value.
    expect(code).toBe(c.strict ? 400 : 422);
    expect(namesField(message, c.field), message).toBe(true);
  });
}

// Each its own name: one accepted by mistake must not turn the next refusals into AlreadyExists.
let refusedNames = 0;
const ckptRefused = (
  title: string,
  field: string,
  checkpointSpec: Json,
  opts: { name?: string; strict?: boolean } = {},
): RefusedCase => ({
  title,
  field,
  strict: opts.strict,
  object: checkpoint(opts.name ?? `refused-${++refusedNames}`, checkpointSpec),
});
const polRefused = (
  title: string,
  field: string,
  policySpec: Json,
  opts: { name?: string; strict?: boolean } = {},
): RefusedCase => ({
  title,
  field,
  strict: opts.strict,
  object: policy(opts.name ?? `bad-input-refused-${++refusedNames}`, policySpec),
});

const checkpointRefusals: RefusedCase[] = [
  // Names
  ckptRefused('name of 254 characters', 'metadata.name', spec(), { name: `n${'x'.repeat(253)}` }),
  ckptRefused('name of 253 characters (a valid object name, too long to label its Jobs)', 'metadata.name', spec(), {
    name: `n${'x'.repeat(252)}`,
  }),
  ckptRefused('name with unicode', 'metadata.name', spec(), { name: 'chéckpoint' }),
  ckptRefused('name with a control character', 'metadata.name', spec(), { name: 'ckpt\u0007' }),
  ckptRefused('podName with unicode', 'spec.target.podName', spec({ target: target('äpp') })),
  ckptRefused('podName empty', 'spec.target.podName', spec({ target: target('') })),
  ckptRefused('podName with a path (a/../b)', 'spec.target.podName', spec({ target: target('a/../b') })),
  ckptRefused('podName with a NUL', 'spec.target.podName', spec({ target: target('target\u0000') })),
  ckptRefused(
    'containerName with a newline',
    'spec.target.containerName',
    spec({ target: target('target', { containerName: 'main\n' }) }),
  ),
  ckptRefused(
    'target namespace of 64 characters',
    'spec.target.namespace',
    spec({ target: target('target', { namespace: 'n'.repeat(64) }) }),
  ),
  ckptRefused('policyRef of 254 characters', 'spec.policyRef', spec({ policyRef: 'p'.repeat(254) })),
  // Wrong types
  ckptRefused('target as an array', 'spec.target', spec({ target: [target('target')] })),
  ckptRefused('podName as an object', 'spec.target.podName', spec({ target: target({ name: 'target' }) })),
  ckptRefused(
    'containerName as a number',
    'spec.target.containerName',
    spec({ target: target('target', { containerName: 7 }) }),
  ),
  ckptRefused('policyRef as an array', 'spec.policyRef', spec({ policyRef: ['default-policy'] })),
  ckptRefused('storage as a string', 'spec.storage', spec({ storage: 'local' })),
  ckptRefused(
    'backend as an array',
    'spec.storage.backend',
    spec({ storage: { backend: ['local'], local: { path: ARCHIVES } } }),
  ),
  ckptRefused(
    'forcePathStyle as a string',
    'spec.storage.s3.forcePathStyle',
    spec({ storage: s3Storage({ forcePathStyle: 'yes' }) }),
  ),
  ckptRefused('timeoutSeconds as a boolean', 'spec.timeoutSeconds', spec({ timeoutSeconds: true })),
  // Huge and odd numbers
  ckptRefused('timeoutSeconds 2^53', 'spec.timeoutSeconds', spec({ timeoutSeconds: 2 ** 53 })),
  ckptRefused('timeoutSeconds 1.5', 'spec.timeoutSeconds', spec({ timeoutSeconds: 1.5 })),
  ckptRefused('timeoutSeconds -1', 'spec.timeoutSeconds', spec({ timeoutSeconds: -1 })),
  ckptRefused('timeoutSeconds 3601, one past the limit', 'spec.timeoutSeconds', spec({ timeoutSeconds: 3601 })),
  // Paths
  ckptRefused('local path with a NUL', 'spec.storage.local.path', spec({ storage: local(`${LOCAL_ROOT}/a\u0000b`) })),
  ckptRefused('local path with a newline', 'spec.storage.local.path', spec({ storage: local(`${LOCAL_ROOT}/a\nb`) })),
  ckptRefused('local path with DEL', 'spec.storage.local.path', spec({ storage: local(`${LOCAL_ROOT}/a\u007fb`) })),
  ckptRefused(
    'local path climbing out with ..',
    'spec.storage.local.path',
    spec({ storage: local(`${LOCAL_ROOT}/../../etc`) }),
  ),
  ckptRefused('local path relative (../etc)', 'spec.storage.local.path', spec({ storage: local('../etc') })),
  ckptRefused('local path with ~', 'spec.storage.local.path', spec({ storage: local('~/checkpoints') })),
  ckptRefused(
    'local path with a trailing slash',
    'spec.storage.local.path',
    spec({ storage: local(`${LOCAL_ROOT}/`) }),
  ),
  ckptRefused('local path in Windows form', 'spec.storage.local.path', spec({ storage: local('C:\\checkpoints') })),
  ckptRefused(
    'local path of 4097 characters',
    'spec.storage.local.path',
    spec({ storage: local(`${LOCAL_ROOT}/${'d'.repeat(4096 - LOCAL_ROOT.length)}`) }),
  ),
  ckptRefused(
    'S3 prefix with an escape sequence',
    'spec.storage.s3.prefix',
    spec({ storage: s3Storage({ prefix: 'app\u001b[31m/' }) }),
  ),
  ckptRefused('S3 prefix ..', 'spec.storage.s3.prefix', spec({ storage: s3Storage({ prefix: '..' }) })),
  ckptRefused(
    'S3 prefix of 513 characters',
    'spec.storage.s3.prefix',
    spec({ storage: s3Storage({ prefix: `${'p'.repeat(512)}/` }) }),
  ),
  ckptRefused(
    'S3 bucket of 64 characters',
    'spec.storage.s3.bucket',
    spec({ storage: s3Storage({ bucket: 'b'.repeat(64) }) }),
  ),
  ckptRefused(
    'S3 endpoint with a path',
    'spec.storage.s3.endpoint',
    spec({ storage: s3Storage({ endpoint: 'https://s3.example.com/../admin' }) }),
  ),
  ckptRefused(
    'S3 endpoint with a 6-digit port',
    'spec.storage.s3.endpoint',
    spec({ storage: s3Storage({ endpoint: 'http://minio:123456' }) }),
  ),
  // Conflicting or missing storage
  ckptRefused(
    'backend local with an s3 section',
    'spec.storage',
    spec({ storage: { ...local(), s3: { bucket: 'checkpoints' } } }),
  ),
  ckptRefused(
    'backend pvc with a local section',
    'spec.storage',
    spec({ storage: { backend: 'pvc', pvc: { claimName: 'archives' }, local: { path: ARCHIVES } } }),
  ),
  ckptRefused(
    'an s3 section without a backend, no policy',
    'spec.storage',
    spec({ storage: { s3: { bucket: 'checkpoints' } } }),
  ),
  ckptRefused(
    'CA bundle Secret in another namespace',
    'spec.storage.s3.caBundleSecretRef.namespace',
    spec({ storage: s3Storage({ caBundleSecretRef: { name: 'ca', namespace: OPERATOR_NS } }) }),
  ),
  // Unknown fields (kubectl's default, strict field validation)
  ckptRefused('unknown field spec.retries', 'spec.retries', spec({ retries: 3 }), { strict: true }),
  ckptRefused('misspelt field target.pod', 'spec.target.pod', spec({ target: { podName: 'target', pod: 'other' } }), {
    strict: true,
  }),
  ckptRefused(
    'pvcTemplate on a Checkpoint (policies only)',
    'spec.storage.pvcTemplate',
    spec({ storage: { backend: 'pvc', pvc: { claimName: 'archives' }, pvcTemplate: pvcTemplate() } }),
    { strict: true },
  ),
];

const policyRefusals: RefusedCase[] = [
  polRefused('name of 254 characters', 'metadata.name', {}, { name: `p${'x'.repeat(253)}` }),
  polRefused('name with unicode', 'metadata.name', {}, { name: 'pölicy' }),
  polRefused('maxCount 2^53', 'spec.retention.maxCount', { retention: { maxCount: 2 ** 53 } }),
  polRefused('maxCount 1e308', 'spec.retention.maxCount', { retention: { maxCount: 1e308 } }),
  polRefused('maxCount as a string', 'spec.retention.maxCount', { retention: { maxCount: '5' } }),
  polRefused('maxAge past what a duration holds', 'spec.retention.maxAge', { retention: { maxAge: '100000000000h' } }),
  polRefused('maxAge with a trailing space', 'spec.retention.maxAge', { retention: { maxAge: '72h ' } }),
  polRefused('schedule with six fields', 'spec.retention.schedule', {
    retention: { maxCount: 1, schedule: '0 */15 * * * *' },
  }),
  polRefused('timeZone as a path (../../etc/localtime)', 'spec.retention.timeZone', {
    retention: { maxCount: 1, timeZone: '../../etc/localtime' },
  }),
  polRefused('suspend as a string', 'spec.retention.suspend', { retention: { maxCount: 1, suspend: 'yes' } }),
  polRefused('targetNamespaces as a string', 'spec.targetNamespaces', { targetNamespaces: 'team-a' }),
  polRefused('targetNamespaces with a duplicate', 'spec.targetNamespaces[1]', {
    targetNamespaces: ['team-a', 'team-a'],
  }),
  polRefused('257 targetNamespaces', 'spec.targetNamespaces', {
    targetNamespaces: Array.from({ length: 257 }, (_, i) => `team-${i}`),
  }),
  polRefused('a target namespace of 64 characters', 'spec.targetNamespaces[0]', { targetNamespaces: ['t'.repeat(64)] }),
  polRefused('imageRepository with a digest', 'spec.restore.imageRepository', {
    restore: { imageRepository: 'registry.example.com/ckpt@sha256:abc' },
  }),
  polRefused('restore without imageRepository', 'spec.restore.imageRepository', {
    restore: { strategy: 'CheckpointImage' },
  }),
  polRefused('push Secret without namespace', 'spec.restore.pushSecretRef.namespace', {
    restore: { imageRepository: REPOSITORY, pushSecretRef: { name: 'push' } },
  }),
  polRefused('registry CA Secret without namespace', 'spec.restore.caBundleSecretRef.namespace', {
    restore: { imageRepository: REPOSITORY, caBundleSecretRef: { name: 'registry-ca' } },
  }),
  polRefused('a registry CA bundle with insecureRegistry (plain HTTP)', 'spec.restore.insecureRegistry', {
    restore: {
      imageRepository: REPOSITORY,
      insecureRegistry: true,
      caBundleSecretRef: { name: 'registry-ca', namespace: OPERATOR_NS },
    },
  }),
  polRefused('both an existing claim and a pvcTemplate', 'spec.storage.pvcTemplate', {
    storage: { backend: 'pvc', pvc: { claimName: 'archives' }, pvcTemplate: pvcTemplate() },
  }),
  polRefused('backend local with an s3 section', 'spec.storage', {
    storage: { ...local(), s3: { bucket: 'checkpoints' } },
  }),
  polRefused('backend local without its section', 'spec.storage.backend', { storage: { backend: 'local' } }),
  polRefused('volumeMode Block', 'spec.storage.pvcTemplate.volumeMode', {
    storage: { backend: 'pvc', pvcTemplate: pvcTemplate({ volumeMode: 'Block' }) },
  }),
  polRefused('five access modes', 'spec.storage.pvcTemplate.accessModes', {
    storage: {
      backend: 'pvc',
      pvcTemplate: pvcTemplate({
        accessModes: ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod', 'ReadWriteOnce'],
      }),
    },
  }),
  polRefused('reclaimPolicy Retain with deleteOrphans', 'spec.retention.deleteOrphans', {
    retention: { maxCount: 1, reclaimPolicy: 'Retain', deleteOrphans: true },
  }),
  polRefused(
    'unknown field retention.maxcount (lower case)',
    'spec.retention.maxcount',
    { retention: { maxcount: 5 } },
    { strict: true },
  ),
];

// ---------------------------------------------------------------------------------------------
// Failed Checkpoints: what the dispatcher decides, with a reason, a message and a Warning Event.

interface FailedCase {
  title: string;
  name: string;
  reason: string;
  spec: Json;
  namespace?: string;
}

const failedCheckpoints: FailedCase[] = [
  {
    title: 'a pod that does not exist',
    name: 'no-such-pod',
    reason: 'PodNotFound',
    spec: spec({ target: target('no-such-pod') }),
  },
  {
    title: 'a container the pod does not have',
    name: 'no-such-container',
    reason: 'ContainerNotFound',
    spec: spec({ target: target('target', { containerName: 'nope' }) }),
  },
  {
    title: 'a pod that is not running (Pending, on no node)',
    name: 'pod-not-running',
    reason: 'ContainerNotRunning',
    spec: spec({ target: target('unscheduled') }),
  },
  {
    title: 'a pod being deleted',
    name: 'pod-terminating',
    reason: 'PodTerminating',
    spec: spec({ target: target('terminating') }),
  },
  {
    title: 'a pod in another namespace, without a policy',
    name: 'cross-ns-no-policy',
    reason: 'CrossNamespaceDenied',
    spec: spec({ target: target('victim', { namespace: OTHER_NS }) }),
  },
  {
    title: 'a pod in another namespace the policy does not list',
    name: 'cross-ns-not-listed',
    reason: 'CrossNamespaceDenied',
    spec: spec({ target: target('victim', { namespace: OTHER_NS }), policyRef: 'bad-input-local' }),
  },
  {
    title: 'a namespace that does not exist (listed by the policy)',
    name: 'ghost-namespace',
    reason: 'PodNotFound',
    spec: spec({ target: target('victim', { namespace: 'bad-input-nowhere' }), policyRef: 'bad-input-ghost-ns' }),
  },
  {
    title:
      "a pod on a node whose kubelet keeps its own self-signed serving certificate (kubeadm's and kind's default), with the default kubelet access",
    name: 'self-signed-kubelet',
    reason: 'KubeletTLSError',
    spec: spec({ target: target('on-self-signed-node') }),
  },
  {
    title: `a pod on a node its administrator labelled ${CHECKPOINT_NODE_LABEL}=disabled: refused before any Job`,
    name: 'node-says-no',
    reason: 'CheckpointDisabledOnNode',
    spec: spec({ target: target('on-disabled-node') }),
  },
  {
    title: 'a policy that does not exist',
    name: 'no-such-policy',
    reason: 'PolicyNotFound',
    spec: { target: target('target'), policyRef: 'bad-input-no-such-policy' },
  },
  {
    title: 'no storage anywhere (policy without storage)',
    name: 'no-storage',
    reason: 'StorageNotConfigured',
    spec: { target: target('target'), policyRef: 'bad-input-empty' },
  },
  {
    title: 'backend s3 without bucket over a local policy',
    name: 's3-no-bucket',
    reason: 'StorageIncomplete',
    spec: { target: target('target'), policyRef: 'bad-input-local', storage: { backend: 's3', s3: { prefix: 'a/' } } },
  },
  {
    title: 'backend pvc without claim over a policy without template',
    name: 'pvc-no-claim',
    reason: 'StorageIncomplete',
    spec: { target: target('target'), policyRef: 'bad-input-local', storage: { backend: 'pvc' } },
  },
  {
    title: 'local path /proc',
    name: 'path-proc',
    reason: 'LocalPathNotAllowed',
    spec: spec({ storage: local('/proc') }),
  },
  {
    title: 'local path beside the allowed root (…-operator-evil)',
    name: 'path-sibling',
    reason: 'LocalPathNotAllowed',
    spec: spec({ storage: local(`${LOCAL_ROOT}-evil`) }),
  },
  {
    title: 'local path above the allowed root (/var/lib)',
    name: 'path-parent',
    reason: 'LocalPathNotAllowed',
    spec: spec({ storage: local('/var/lib') }),
  },
  {
    title: 'local path with %2f%2e%2e (encoded ../)',
    name: 'path-encoded',
    reason: 'LocalPathNotAllowed',
    spec: spec({ storage: local(`${LOCAL_ROOT}%2f%2e%2e%2fetc`) }),
  },
  {
    title: 'S3 credentials Secret that does not exist',
    name: 's3-no-creds',
    reason: 'CredentialsNotFound',
    spec: spec({
      storage: s3Storage({
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentialsSecretRef: { name: 'bad-input-no-such-secret' },
      }),
    }),
  },
  {
    title: 'S3 credentials Secret without the secret key',
    name: 's3-partial-creds',
    reason: 'CredentialsIncomplete',
    spec: spec({
      storage: s3Storage({
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentialsSecretRef: { name: 'bad-input-partial-creds' },
      }),
    }),
  },
  {
    title: 'CA bundle Secret that does not exist',
    name: 's3-no-ca',
    reason: 'CABundleNotFound',
    spec: spec({
      storage: s3Storage({
        endpoint: s3.endpoint,
        forcePathStyle: true,
        caBundleSecretRef: { name: 'bad-input-no-such-ca' },
      }),
    }),
  },
  {
    title: 'a policy whose pvcTemplate asks for -1Gi',
    name: 'negative-claim',
    reason: 'InvalidClaimTemplate',
    spec: { target: target('target'), policyRef: 'bad-input-negative-claim' },
  },
  {
    title: 'an S3 bucket that does not exist',
    name: 's3-no-bucket-there',
    reason: 'BucketNotFound',
    spec: spec({
      target: target('target', { containerName: 'sidecar' }),
      storage: s3Storage({ endpoint: s3.endpoint, forcePathStyle: true, bucket: 'bad-input-no-such-bucket' }),
    }),
  },
];

// Policies a case needs, not themselves bad (except where named so).
const supportingPolicies: Json[] = [
  policy('bad-input-local', { storage: local(), targetNamespaces: ['somewhere-else'] }),
  policy('bad-input-empty', { retention: { maxCount: 3 } }),
  policy('bad-input-ghost-ns', { storage: local(), targetNamespaces: ['bad-input-nowhere'] }),
  policy('bad-input-restore-gone', {}),
  policy('bad-input-push-missing', {
    restore: {
      imageRepository: REPOSITORY,
      pushSecretRef: { name: 'bad-input-no-such-secret', namespace: OPERATOR_NS },
    },
  }),
  policy('bad-input-push-opaque', {
    restore: { imageRepository: REPOSITORY, pushSecretRef: { name: 'bad-input-opaque', namespace: NS } },
  }),
  policy('bad-input-pull', { restore: { imageRepository: REPOSITORY, pullSecretName: 'bad-input-pull' } }),
  policy('bad-input-doomed-running', { storage: local() }),
  policy('bad-input-doomed-waiting', { storage: local() }),
];

// Policies the API server takes but the operator cannot act on: Ready=False with a reason.
interface NotReadyCase {
  title: string;
  name: string;
  reason: string;
  spec: Json;
}
const notReadyPolicies: NotReadyCase[] = [
  {
    title: 'schedule minute 61 (cron shape, not a time)',
    name: 'bad-input-minute-61',
    reason: 'InvalidSchedule',
    spec: { retention: { maxCount: 1, schedule: '61 * * * *' } },
  },
  {
    title: 'timeZone Mars/Olympus',
    name: 'bad-input-mars',
    reason: 'InvalidTimeZone',
    spec: { retention: { maxCount: 1, timeZone: 'Mars/Olympus' } },
  },
  {
    title: 'timeZone in the wrong case (europe/paris)',
    name: 'bad-input-lower-tz',
    reason: 'InvalidTimeZone',
    spec: { retention: { maxCount: 1, timeZone: 'europe/paris' } },
  },
  {
    title: 'pvcTemplate of -1Gi',
    name: 'bad-input-negative-claim',
    reason: 'InvalidClaimTemplate',
    spec: { storage: { backend: 'pvc', pvcTemplate: pvcTemplate({ resources: { requests: { storage: '-1Gi' } } }) } },
  },
  {
    title: 'S3 sweep credentials Secret that does not exist',
    name: 'bad-input-sweep-no-creds',
    reason: 'CredentialsNotFound',
    spec: {
      retention: { maxCount: 1 },
      storage: s3Storage({
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentialsSecretRef: { name: 'bad-input-no-such-secret', namespace: NS },
      }),
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Restore requests: the pod gets restore-status=Failed with a reason and an Event, and nothing
// else changes.

interface RestoreCase {
  title: string;
  pod: string;
  value: string;
  reason: string;
  running?: boolean;
  node?: string;
}

/** Succeeded Checkpoints the restore cases point at, each of its own source pod. */
const restoreSources: { name: string; pod: string; container?: string; policyRef?: string }[] = [
  { name: 'src-ok', pod: 'src-ok' },
  { name: 'src-web', pod: 'src-web', container: 'web' },
  { name: 'src-policy-gone', pod: 'src-policy-gone', policyRef: 'bad-input-restore-gone' },
  { name: 'src-push-missing', pod: 'src-push-missing', policyRef: 'bad-input-push-missing' },
  { name: 'src-push-opaque', pod: 'src-push-opaque', policyRef: 'bad-input-push-opaque' },
  { name: 'src-pull', pod: 'src-pull', policyRef: 'bad-input-pull' },
];

const restoreRefusals: RestoreCase[] = [
  { title: 'empty value', pod: 'r-empty', value: '', reason: 'InvalidRequest' },
  { title: '254 characters', pod: 'r-long', value: 'a'.repeat(254), reason: 'InvalidRequest' },
  // Copied as it is into restore-handled, this one would take the pod past its 256 KiB of annotations.
  { title: '140,000 characters', pod: 'r-huge', value: 'h'.repeat(140_000), reason: 'InvalidRequest' },
  { title: 'a path (../../etc/passwd)', pod: 'r-path', value: '../../etc/passwd', reason: 'InvalidRequest' },
  {
    title: "namespace/name of another namespace's Checkpoint",
    pod: 'r-other-ns',
    value: `${OTHER_NS}/elsewhere`,
    reason: 'InvalidRequest',
  },
  { title: 'a subresource (src-ok/status)', pod: 'r-subresource', value: 'src-ok/status', reason: 'InvalidRequest' },
  { title: 'URL-encoded ../ (%2e%2e%2fsrc-ok)', pod: 'r-encoded', value: '%2e%2e%2fsrc-ok', reason: 'InvalidRequest' },
  { title: 'upper case', pod: 'r-upper', value: 'Src-OK', reason: 'InvalidRequest' },
  { title: 'unicode', pod: 'r-unicode', value: 'src-ök', reason: 'InvalidRequest' },
  { title: 'a trailing newline', pod: 'r-newline', value: 'src-ok\n', reason: 'InvalidRequest' },
  { title: 'a NUL', pod: 'r-nul', value: 'src-ok\u0000', reason: 'InvalidRequest' },
  {
    title: 'a Checkpoint that exists only in another namespace',
    pod: 'r-elsewhere',
    value: 'elsewhere',
    reason: 'CheckpointNotFound',
  },
  { title: 'a Failed Checkpoint', pod: 'r-failed', value: 'no-such-pod', reason: 'CheckpointNotReady' },
  {
    title: 'a Checkpoint of a container the pod does not have',
    pod: 'r-web',
    value: 'src-web',
    reason: 'ContainerNotInPod',
  },
  { title: 'a pod on no node', pod: 'unscheduled', value: 'src-ok', reason: 'PodNotScheduled', running: false },
  { title: 'a pod being deleted', pod: 'terminating', value: 'src-ok', reason: 'PodTerminating', running: false },
  {
    title: 'a Checkpoint whose policy was deleted',
    pod: 'r-policy-gone',
    value: 'src-policy-gone',
    reason: 'PolicyNotFound',
  },
  {
    title: 'a push Secret that does not exist',
    pod: 'r-push-missing',
    value: 'src-push-missing',
    reason: 'RegistryCredentialsNotFound',
  },
  {
    title: 'a push Secret that is no dockerconfigjson',
    pod: 'r-push-opaque',
    value: 'src-push-opaque',
    reason: 'RegistryCredentialsNotFound',
  },
  { title: 'a pull Secret the pod does not list', pod: 'r-pull', value: 'src-pull', reason: 'PullSecretNotInPod' },
  {
    title: 'a pod on a node whose containerd does not restore (2.3, restore off)',
    pod: 'r-no-restore-node',
    value: 'src-ok',
    reason: 'RuntimeCannotRestore',
    node: DEFAULT_NODE,
  },
];

const annotation = (p: PodView, key: string) => p.metadata.annotations?.[key];

async function annotatePod(name: string, annotations: Record<string, string | null>, namespace = NS): Promise<void> {
  await core().patchNamespacedPod(
    { name, namespace, body: { metadata: { annotations } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/** The pod once the dispatcher has answered this restore-from value with Succeeded or Failed. */
async function restoreAnswer(name: string, value: string, timeoutMs = TERMINAL_MS): Promise<PodView> {
  return until(
    `restore of ${NS}/${name} from ${JSON.stringify(value)}`,
    async () => {
      const p = await getPod(name);
      const status = annotation(p, RESTORE_STATUS_ANNOTATION);
      return annotation(p, RESTORE_HANDLED_ANNOTATION) === handledMarker(value) &&
        (status === 'Succeeded' || status === 'Failed')
        ? p
        : undefined;
    },
    timeoutMs,
  );
}

// ---------------------------------------------------------------------------------------------
// Operator configuration: the real dispatcher program, started as the image starts it.

interface ConfigCase {
  title: string;
  env: Record<string, string>;
  args?: string[];
  names: string;
}

const configCases: ConfigCase[] = [
  { title: 'LOG_LEVEL=trace', env: { LOG_LEVEL: 'trace' }, names: 'LOG_LEVEL' },
  { title: 'LOG_LEVEL=DEBUG (upper case)', env: { LOG_LEVEL: 'DEBUG' }, names: 'LOG_LEVEL' },
  { title: 'METRICS_PORT=99999', env: { METRICS_PORT: '99999' }, names: 'METRICS_PORT' },
  { title: 'METRICS_PORT=-1', env: { METRICS_PORT: '-1' }, names: 'METRICS_PORT' },
  { title: 'HEALTH_PROBE_PORT=http', env: { HEALTH_PROBE_PORT: 'http' }, names: 'HEALTH_PROBE_PORT' },
  {
    title: 'METRICS_SECURE_PORT equal to HEALTH_PROBE_PORT',
    env: { METRICS_SECURE_PORT: '8081', HEALTH_PROBE_PORT: '8081' },
    names: 'METRICS_SECURE_PORT',
  },
  {
    title: 'METRICS_BIND_ADDRESS=localhost (not an address)',
    env: { METRICS_BIND_ADDRESS: 'localhost' },
    names: 'METRICS_BIND_ADDRESS',
  },
  {
    title: 'METRICS_CERT_DIR without METRICS_SECURE_PORT',
    env: { METRICS_CERT_DIR: '/etc/metrics-cert' },
    names: 'METRICS_CERT_DIR',
  },
  { title: 'KUBELET_PORT=0', env: { KUBELET_PORT: '0' }, names: 'KUBELET_PORT' },
  { title: 'WATCH_NAMESPACE=Team A', env: { WATCH_NAMESPACE: 'Team A' }, names: 'WATCH_NAMESPACE' },
  { title: 'WATCH_NAMESPACE of 64 characters', env: { WATCH_NAMESPACE: 'w'.repeat(64) }, names: 'WATCH_NAMESPACE' },
  { title: 'WATCH_NAMESPACE=* (not a namespace)', env: { WATCH_NAMESPACE: '*' }, names: 'WATCH_NAMESPACE' },
  { title: 'WATCH_NAMESPACE=,, (separators only)', env: { WATCH_NAMESPACE: ',,' }, names: 'WATCH_NAMESPACE' },
  { title: 'PUSHGATEWAY_URL without a scheme', env: { PUSHGATEWAY_URL: 'pushgateway:9091' }, names: 'PUSHGATEWAY_URL' },
  { title: 'PUSHGATEWAY_URL=ftp://…', env: { PUSHGATEWAY_URL: 'ftp://pushgateway:9091' }, names: 'PUSHGATEWAY_URL' },
  {
    title: 'RESTORE_IMAGE_REPOSITORY as a URL with spaces',
    env: { RESTORE_IMAGE_REPOSITORY: 'https://registry/Upper Case' },
    names: 'RESTORE_IMAGE_REPOSITORY',
  },
  {
    title: 'LEADER_ELECTION_LEASE_DURATION=15 (no unit)',
    env: { LEADER_ELECTION_LEASE_DURATION: '15' },
    names: 'LEADER_ELECTION_LEASE_DURATION',
  },
  {
    title: 'LEADER_ELECTION_RENEW_DEADLINE=-10s',
    env: { LEADER_ELECTION_RENEW_DEADLINE: '-10s' },
    names: 'LEADER_ELECTION_RENEW_DEADLINE',
  },
  {
    title: 'LEADER_ELECTION_RETRY_PERIOD=0s',
    env: { LEADER_ELECTION_RETRY_PERIOD: '0s' },
    names: 'LEADER_ELECTION_RETRY_PERIOD',
  },
  {
    title: 'LEADER_ELECTION_LEASE_DURATION shorter than the renew deadline',
    env: { LEADER_ELECTION_LEASE_DURATION: '5s' },
    names: 'LEADER_ELECTION_LEASE_DURATION',
  },
  {
    title: 'LEADER_ELECTION_LEASE_DURATION=100000000h',
    env: { LEADER_ELECTION_LEASE_DURATION: '100000000h' },
    names: 'LEADER_ELECTION_LEASE_DURATION',
  },
  { title: 'KUBE_API_QPS=-5', env: { KUBE_API_QPS: '-5' }, names: 'KUBE_API_QPS' },
  { title: 'KUBE_API_QPS=abc', env: { KUBE_API_QPS: 'abc' }, names: 'KUBE_API_QPS' },
  { title: 'KUBE_API_BURST=2.5', env: { KUBE_API_BURST: '2.5' }, names: 'KUBE_API_BURST' },
  { title: 'OPERATOR_NAME=Checkpoint Operator', env: { OPERATOR_NAME: 'Checkpoint Operator' }, names: 'OPERATOR_NAME' },
  { title: 'OPERATOR_NAME of 64 characters', env: { OPERATOR_NAME: 'o'.repeat(64) }, names: 'OPERATOR_NAME' },
  { title: 'JOB_IMAGE of spaces', env: { JOB_IMAGE: '   ' }, names: 'JOB_IMAGE' },
  {
    title: 'LOCAL_STORAGE_ROOTS=/var/../etc',
    env: { LOCAL_STORAGE_ROOTS: '/var/../etc' },
    names: 'LOCAL_STORAGE_ROOTS',
  },
  { title: 'LOCAL_STORAGE_ROOTS=/', env: { LOCAL_STORAGE_ROOTS: '/' }, names: 'LOCAL_STORAGE_ROOTS' },
  { title: 'KUBELET_ACCESS=ssh', env: { KUBELET_ACCESS: 'ssh' }, names: 'KUBELET_ACCESS' },
  {
    title: 'RESTORE_INSECURE_REGISTRY=yes',
    env: { RESTORE_INSECURE_REGISTRY: 'yes' },
    names: 'RESTORE_INSECURE_REGISTRY',
  },
  {
    title: 'RESTORE_CA_BUNDLE_SECRET=../ca',
    env: { RESTORE_CA_BUNDLE_SECRET: '../ca' },
    names: 'RESTORE_CA_BUNDLE_SECRET',
  },
  {
    title: 'RESTORE_CA_BUNDLE_SECRET with RESTORE_INSECURE_REGISTRY=true',
    env: { RESTORE_CA_BUNDLE_SECRET: 'registry-ca', RESTORE_INSECURE_REGISTRY: 'true' },
    names: 'RESTORE_CA_BUNDLE_SECRET',
  },
  { title: 'POD_NAMESPACE=../etc', env: { POD_NAMESPACE: '../etc' }, names: 'POD_NAMESPACE' },
  {
    title: 'S3_DEFAULT_CREDENTIALS_SECRET of 254 characters',
    env: { S3_DEFAULT_CREDENTIALS_SECRET: 's'.repeat(254) },
    names: 'S3_DEFAULT_CREDENTIALS_SECRET',
  },
  { title: 'flag --leader-elect=maybe', env: {}, args: ['--leader-elect=maybe'], names: '--leader-elect=maybe' },
];

/**
 * Runs the built dispatcher as the image does; the cluster is reachable, so only the
 * configuration can stop it. Everything a case does not set points at an empty namespace and
 * free ports: a case that started by mistake would find nothing to act on.
 */
async function startManager(c: ConfigCase): Promise<{ code: number; stderr: string }> {
  const sandbox = {
    WATCH_NAMESPACE: 'bad-input-config',
    POD_NAMESPACE: 'bad-input-config',
    JOB_NAMESPACE: 'bad-input-config',
    JOB_IMAGE: 'checkpoint-operator:bad-input',
    METRICS_PORT: String(await freePort()),
    HEALTH_PROBE_PORT: String(await freePort()),
  };
  try {
    await run(process.execPath, [manager(), ...(c.args ?? [])], {
      env: { PATH: process.env.PATH, KUBECONFIG: clusterContext().kubeconfig, ...sandbox, ...c.env },
      timeout: 60_000,
    });
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stderr: e.stderr ?? '' };
  }
}

/** Runs tasks with at most `limit` at once, keeping their order. */
async function bounded<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await task(items[i]!);
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------

let restartsBefore = 0;
let configRuns: Promise<{ code: number; stderr: string }[]>;

beforeAll(async () => {
  for (const ns of [NS, OTHER_NS]) await kubectl(['create', 'namespace', ns]).catch(() => undefined);
  restartsBefore = await dispatcherRestarts();
  // Started now, checked later: each is a separate program start, slow on a busy machine.
  configRuns = bounded(configCases, 3, startManager);
  configRuns.catch(() => undefined);

  await applyAll([
    pod('target', { containers: ['main', 'sidecar'] }),
    pod('unscheduled', { unschedulable: true }),
    pod('terminating', { finalizer: true }),
    pod('victim', { namespace: OTHER_NS }),
    pod('stalls-a'),
    pod('stalls-b'),
    pod('six', { containers: ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'] }),
    pod('on-self-signed-node', { node: DEFAULT_NODE }),
    pod('on-disabled-node', { node: OTHER_CHECKPOINT_NODE }),
    pod('r-rollback', { node: DEFAULT_NODE }),
    ...restoreSources.map((s) => pod(s.pod, { containers: [s.container ?? 'main'] })),
    ...restoreRefusals.filter((r) => r.running !== false).map((r) => pod(r.pod, r.node ? { node: r.node } : {})),
  ]);
  await kubectl([
    'create',
    'secret',
    'generic',
    'bad-input-partial-creds',
    '-n',
    NS,
    '--from-literal=AWS_ACCESS_KEY_ID=only-the-id',
  ]).catch(() => undefined);
  await kubectl([
    'create',
    'secret',
    'generic',
    'bad-input-opaque',
    '-n',
    NS,
    '--from-literal=password=not-a-docker-config',
  ]).catch(() => undefined);
  await applyAll([...supportingPolicies, ...notReadyPolicies.map((p) => policy(p.name, p.spec))]);
  await kubectl([
    'wait',
    '--for=condition=Ready',
    'pod',
    '-l',
    'bad-input.test/ready=expected',
    '-n',
    NS,
    '--timeout=180s',
  ]);
  await kubectl(['wait', '--for=condition=Ready', 'pod/victim', '-n', OTHER_NS, '--timeout=180s']);
  // Held by its finalizer: deleted, but still there for the cases about a pod being deleted.
  await kubectl(['delete', 'pod', 'terminating', '-n', NS, '--wait=false']);
  await until(
    'pod terminating marked for deletion',
    async () => ((await getPod('terminating')).metadata.deletionTimestamp ? true : undefined),
    60_000,
  );

  // A node that checkpoints with the defaults, but whose administrator says no (taken off after).
  await kubectl(['label', 'node', OTHER_CHECKPOINT_NODE, `${CHECKPOINT_NODE_LABEL}=disabled`, '--overwrite']);
  // One batch for the dispatcher: the failing Checkpoints, and the Succeeded ones restores need.
  await applyAll([
    ...failedCheckpoints.map((c) => checkpoint(c.name, c.spec, c.namespace)),
    ...restoreSources.map((s) =>
      checkpoint(s.name, {
        target: target(s.pod, { containerName: s.container ?? 'main' }),
        storage: local(),
        ...(s.policyRef ? { policyRef: s.policyRef } : {}),
      }),
    ),
    checkpoint('six-c4', { target: target('six', { containerName: 'c4' }), storage: local() }),
    // Exists only in the other namespace (whatever becomes of it), for a restore asking for it by name.
    checkpoint('elsewhere', { target: target('victim'), storage: local() }, OTHER_NS),
    // A segment that reads like ../ once URL-decoded is a plain directory name under the root.
    checkpoint('encoded-dots', { target: target('target'), storage: local(`${LOCAL_ROOT}/%2e%2e/etc`) }),
  ]);
}, 600_000);

afterAll(async () => {
  await writeSection('badInput', {
    ranAt: new Date().toISOString(),
    machine: machine(),
    dispatcherRestarts: (await dispatcherRestarts().catch(() => restartsBefore)) - restartsBefore,
    results,
  });
  // Let the held pod go, and take away the cluster-scoped objects this file made.
  await kubectl(['label', 'node', OTHER_CHECKPOINT_NODE, `${CHECKPOINT_NODE_LABEL}-`]).catch(() => undefined);
  await kubectl([
    'patch',
    'pod',
    'terminating',
    '-n',
    NS,
    '--type=json',
    '-p',
    '[{"op":"remove","path":"/metadata/finalizers"}]',
  ]).catch(() => undefined);
  const policies = [...supportingPolicies, ...policyRefusals.map((c) => c.object)]
    .map((p) => (p.metadata as { name: string }).name)
    .concat(notReadyPolicies.map((p) => p.name))
    .filter((name) => name.length <= 253 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name));
  await kubectl([
    'delete',
    'checkpointpolicies.checkpoint.example.com',
    ...policies,
    '--ignore-not-found',
    '--wait=false',
  ]).catch(() => undefined);
});

describe('Checkpoint: refused by the API server, naming the field', () => {
  it.each(checkpointRefusals.map((c) => [c.title, c] as const))('%s', async (_title, c) => {
    await expectRefused('Checkpoint', c);
  });
});

describe('CheckpointPolicy: refused by the API server, naming the field', () => {
  it.each(policyRefusals.map((c) => [c.title, c] as const))('%s', async (_title, c) => {
    await expectRefused('CheckpointPolicy', c);
  });
});

describe('operator configuration: the dispatcher stops with one line and exit code 2', () => {
  it.each(configCases.map((c, i) => [c.title, c, i] as const))('%s', async (_title, c, i) => {
    await recordCase('operator configuration', c.title, async (seen) => {
      const { code, stderr } = (await configRuns)[i]!;
      seen.outcome = `exit ${code}`;
      seen.message = stderr.trim();
      expect(code).toBe(2);
      const lines = stderr.trim().split('\n');
      expect(lines, stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^invalid configuration: /);
      expect(lines[0]).toContain(c.names);
    });
  });
});

describe('runtime: what changes under a Checkpoint while it runs', () => {
  // Each Job has its archive from the kubelet (a real one answers in about a second) and then
  // waits on storage that answers nothing, so there is time to pull something away from under
  // it; then the storage answers again.
  let stalled: Awaited<ReturnType<typeof stalledStorage>>;
  beforeAll(async () => {
    stalled = await stalledStorage();
    const storage = stalled.storage as unknown as Json;
    await applyAll([
      checkpoint('pod-deleted', { target: target('stalls-a'), storage }),
      checkpoint('policy-gone-running', { target: target('stalls-b'), policyRef: 'bad-input-doomed-running', storage }),
    ]);
    await Promise.all([
      waitForPhase(NS, 'pod-deleted', 'Running', 120_000),
      waitForPhase(NS, 'policy-gone-running', 'Running', 120_000),
    ]);
    // Running means the Job exists; the kubelet has taken both archives once both Jobs wait on their uploads.
    for (const deadline = Date.now() + 120_000; stalled.heldConnections() < 2;) {
      if (Date.now() > deadline)
        throw new Error(`the stalled storage holds ${stalled.heldConnections()} uploads after 120 s, expected 2`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // Asks for the container the running one holds: it waits for it.
    await applyAll([
      checkpoint('policy-gone-waiting', { target: target('stalls-b'), policyRef: 'bad-input-doomed-waiting' }),
    ]);
    await kubectl(['delete', 'pod', 'stalls-a', '-n', NS, '--wait=false']);
    await kubectl([
      'delete',
      'checkpointpolicies.checkpoint.example.com',
      'bad-input-doomed-running',
      'bad-input-doomed-waiting',
      '--wait=true',
    ]);
    stalled.release();
  }, 300_000);
  afterAll(async () => stalled?.close());

  it.each([
    // The archive was taken before the pod went: it is stored, as any other.
    ['the pod is deleted while its archive is uploaded', 'pod-deleted', 'Succeeded', 'ArchiveStored'],
    [
      'the policy is deleted while its Job runs (the Job has its storage already)',
      'policy-gone-running',
      'Succeeded',
      'ArchiveStored',
    ],
    [
      'the policy is deleted while the Checkpoint waits for its container',
      'policy-gone-waiting',
      'Failed',
      'PolicyNotFound',
    ],
  ] as const)('%s', async (title, name, phase, reason) => {
    await recordCase('runtime', title, async (seen) => {
      const c = await waitForTerminal(NS, name, TERMINAL_MS);
      seen.outcome = `${c.status?.phase}/${c.status?.reason}`;
      seen.message = c.status?.message ?? '';
      expect(c.status?.phase, c.status?.message).toBe(phase);
      expect(c.status!.reason).toBe(reason);
      expect(c.status!.message!.length).toBeGreaterThan(15);
      if (phase === 'Failed') await expectWarningEvent(NS, name, c.status!.reason!);
      else expect(c.status!.archive?.sizeBytes).toBeGreaterThan(0);
    });
  });
});

describe('Checkpoint: ends Failed with a one-word reason, a message and a Warning Event', () => {
  it.each(failedCheckpoints.map((c) => [c.title, c] as const))('%s', async (_title, c) => {
    await recordCase('Checkpoint', c.title, async (seen) => {
      const namespace = c.namespace ?? NS;
      const done = await waitForTerminal(namespace, c.name, TERMINAL_MS);
      seen.outcome = `${done.status?.phase}/${done.status?.reason}`;
      seen.message = done.status?.message ?? '';
      expect(done.status).toMatchObject({ phase: 'Failed', reason: c.reason });
      expect(done.status!.reason).toMatch(ONE_WORD);
      expect(done.status!.message!.length).toBeGreaterThan(15);
      expect(done.status!.conditions!.find((x) => x.type === 'Succeeded')).toMatchObject({
        status: 'False',
        reason: c.reason,
      });
      await expectWarningEvent(namespace, c.name, c.reason);
    });
  });

  it('a directory named %2e%2e is a directory under the root, not a way out of it', async () => {
    await recordCase('Checkpoint', 'local path with a %2e%2e segment under the root', async (seen) => {
      const c = await waitForTerminal(NS, 'encoded-dots', TERMINAL_MS);
      seen.outcome = `${c.status?.phase}/${c.status?.reason}`;
      seen.message = c.status?.message ?? '';
      expect(c.status?.phase, c.status?.message).toBe('Succeeded');
      const uri = c.status!.archive!.uri;
      expect(uri.startsWith(`local://${c.status!.nodeName}${LOCAL_ROOT}/%2e%2e/etc/${NS}/encoded-dots/`), uri).toBe(
        true,
      );
      // The bytes are where the URI says, literally: nothing decoded the segment into "..".
      const file = join(clusterDir, 'nodes', c.status!.nodeName!, uri.replace(/^local:\/\/[^/]+/, ''));
      expect((await stat(file)).size).toBe(c.status!.archive!.sizeBytes);
    });
  });
});

describe('CheckpointPolicy: taken by the API server, then Ready=False with a reason and a Warning Event', () => {
  it.each(notReadyPolicies.map((p) => [p.title, p] as const))('%s', async (_title, p) => {
    await recordCase('CheckpointPolicy', p.title, async (seen) => {
      const ready = await until(`policy ${p.name} Ready condition`, async () =>
        (await getPolicy(p.name)).status?.conditions?.find((c) => c.type === 'Ready'),
      );
      seen.outcome = `Ready=${ready.status}/${ready.reason}`;
      seen.message = ready.message;
      expect(ready).toMatchObject({ status: 'False', reason: p.reason });
      expect(ready.message.length).toBeGreaterThan(15);
      // Events of cluster-scoped objects are recorded in the default namespace.
      await expectWarningEvent('default', p.name, p.reason);
    });
  });
});

describe('restore annotation: refused, the pod untouched', () => {
  /** Each pod as it was before its request. */
  const before = new Map<string, PodView>();

  beforeAll(async () => {
    await Promise.all(
      restoreSources.map(async (s) => {
        const c = await waitForTerminal(NS, s.name, TERMINAL_MS);
        if (c.status?.phase !== 'Succeeded')
          throw new Error(`source Checkpoint ${s.name} did not succeed: ${JSON.stringify(c.status)}`);
      }),
    );
    await waitForTerminal(NS, 'no-such-pod', TERMINAL_MS);
    await until(
      'Checkpoint elsewhere in the other namespace',
      async () => getCheckpoint(OTHER_NS, 'elsewhere'),
      60_000,
    );
    // A Checkpoint's policy can go away after it succeeded.
    await kubectl(['delete', 'checkpointpolicies.checkpoint.example.com', 'bad-input-restore-gone', '--wait=true']);
    for (const r of restoreRefusals) before.set(r.pod, await getPod(r.pod));
    // All the requests at once.
    await Promise.all(restoreRefusals.map((r) => annotatePod(r.pod, { [RESTORE_FROM_ANNOTATION]: r.value })));
  }, 600_000);

  it.each(restoreRefusals.map((r) => [r.title, r] as const))('%s', async (title, r) => {
    await recordCase('restore annotation', title, async (seen) => {
      const was = before.get(r.pod)!;
      const after = await restoreAnswer(r.pod, r.value);
      const message = annotation(after, RESTORE_MESSAGE_ANNOTATION) ?? '';
      seen.outcome = `restore-status=${annotation(after, RESTORE_STATUS_ANNOTATION)}/${message.split(':')[0]}`;
      seen.message = message;
      expect(annotation(after, RESTORE_STATUS_ANNOTATION)).toBe('Failed');
      expect(message.startsWith(`${r.reason}: `), message).toBe(true);
      expect(message.length).toBeGreaterThan(r.reason.length + 15);
      // Nothing else changed: the same images, no restart, no restored-from.
      expect(after.spec.containers.map((c) => c.image)).toEqual(was.spec.containers.map((c) => c.image));
      if (r.running !== false) {
        expect(after.status.containerStatuses!.map((s) => s.restartCount)).toEqual(
          was.status.containerStatuses!.map((s) => s.restartCount),
        );
      }
      expect(annotation(after, RESTORED_FROM_ANNOTATION)).toBeUndefined();
      await expectWarningEvent(NS, r.pod, r.reason);
    });
  });

  it('a pod of six containers and a Checkpoint of one: that one is restored, the five others are untouched', async () => {
    await recordCase('restore annotation', 'a Checkpoint of container 4 of a pod with 6 containers', async (seen) => {
      const c = await waitForTerminal(NS, 'six-c4', TERMINAL_MS);
      expect(c.status?.phase, c.status?.message).toBe('Succeeded');
      const before = await getPod('six');
      await annotatePod('six', { [RESTORE_FROM_ANNOTATION]: 'six-c4' });
      const after = await restoreAnswer('six', 'six-c4');
      seen.outcome = `restore-status=${annotation(after, RESTORE_STATUS_ANNOTATION)}`;
      seen.message = annotation(after, RESTORE_MESSAGE_ANNOTATION) ?? '';
      expect(annotation(after, RESTORE_STATUS_ANNOTATION), seen.message).toBe('Succeeded');
      expect(annotation(after, RESTORED_FROM_ANNOTATION)).toBe('six-c4');
      const image = (p: PodView, name: string) => p.spec.containers.find((x) => x.name === name)!.image;
      const restarts = (p: PodView, name: string) =>
        p.status.containerStatuses!.find((x) => x.name === name)!.restartCount;
      expect(image(after, 'c4')).toMatch(new RegExp(`^${REPOSITORY.replace(/\./g, '\\.')}@sha256:[a-f0-9]{64}$`));
      expect(restarts(after, 'c4')).toBe(restarts(before, 'c4') + 1);
      for (const other of ['c1', 'c2', 'c3', 'c5', 'c6']) {
        expect(image(after, other)).toBe(image(before, other));
        expect(restarts(after, other)).toBe(restarts(before, other));
      }
    });
  });
});

describe('restore on a node that cannot run the checkpoint image after all', () => {
  it(`a pod on a node labelled ${RESTORE_NODE_LABEL}=enabled whose containerd cannot restore: its original image goes back`, async () => {
    await recordCase(
      'restore annotation',
      `a pod on a node labelled ${RESTORE_NODE_LABEL}=enabled whose containerd has restore off (rolled back)`,
      async (seen) => {
        // The administrator's label says the node restores; its containerd says nothing of the
        // kind, and only running the checkpoint image shows it cannot.
        await kubectl(['label', 'node', DEFAULT_NODE, `${RESTORE_NODE_LABEL}=enabled`, '--overwrite']);
        try {
          await new Promise((r) => setTimeout(r, 1000));
          const before = await getPod('r-rollback');
          const original = before.spec.containers[0]!.image;
          await annotatePod('r-rollback', { [RESTORE_FROM_ANNOTATION]: 'src-ok' });
          const after = await restoreAnswer('r-rollback', 'src-ok', 180_000);
          const message = annotation(after, RESTORE_MESSAGE_ANNOTATION) ?? '';
          seen.outcome = `restore-status=${annotation(after, RESTORE_STATUS_ANNOTATION)}/${message.split(':')[0]}`;
          seen.message = message;
          expect(annotation(after, RESTORE_STATUS_ANNOTATION)).toBe('Failed');
          expect(message).toMatch(/^NodeRejectedImage: /);
          expect(message).toContain(`rolled back: container main runs its original image ${original} again`);
          expect(after.spec.containers[0]!.image).toBe(original);
          expect(annotation(after, RESTORED_FROM_ANNOTATION)).toBeUndefined();
          await expectWarningEvent(NS, 'r-rollback', 'NodeRejectedImage');
        } finally {
          await kubectl(['label', 'node', DEFAULT_NODE, `${RESTORE_NODE_LABEL}-`]);
        }
      },
    );
  }, 240_000);
});

describe('after all the bad input', () => {
  it('the dispatcher never restarted', async () => {
    expect(await dispatcherRestarts()).toBe(restartsBefore);
  });

  it('a good Checkpoint still succeeds', async () => {
    await applyAll([
      checkpoint('good-after-all', { target: target('target', { containerName: 'main' }), storage: local() }),
    ]);
    const c: Checkpoint = await waitForTerminal(NS, 'good-after-all', TERMINAL_MS);
    expect(c.status?.phase, c.status?.message).toBe('Succeeded');
    expect(c.status!.archive!.sha256).toMatch(/^[a-f0-9]{64}$/);
    expect(await dispatcherRestarts()).toBe(restartsBefore);
  });
});

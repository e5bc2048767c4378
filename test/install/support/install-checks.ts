import { expect } from 'vitest';
import { counterPort } from '../../e2e/support/checkpoints.js';
import { kubectl } from '../../e2e/support/kube.js';

export const OPERATOR_NS = 'checkpoint-operator-system';

/** The counter's answer: its identity (drawn at start) and its count, both only in its memory. */
export async function counterOf(namespace: string, pod: string): Promise<{ id: string; count: number }> {
  return JSON.parse(
    await kubectl([
      'exec',
      pod,
      '-n',
      namespace,
      '-c',
      'main',
      '--',
      'wget',
      '-qO-',
      `http://127.0.0.1:${counterPort(0)}/`,
    ]),
  );
}

/** The restore-status and -message annotations once the restore of `request` has settled. */
export async function waitForRestore(
  namespace: string,
  pod: string,
  request: string,
  timeoutMs = 180_000,
): Promise<{ status: string; message: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = JSON.parse(await kubectl(['get', 'pod', pod, '-n', namespace, '-o', 'json'])) as {
      metadata: { annotations?: Record<string, string> };
    };
    const a = view.metadata.annotations ?? {};
    const status = a['checkpoint.example.com/restore-status'];
    if (a['checkpoint.example.com/restore-handled'] === request && (status === 'Succeeded' || status === 'Failed'))
      return { status, message: a['checkpoint.example.com/restore-message'] ?? '' };
    if (Date.now() > deadline) throw new Error(`restore of ${namespace}/${pod} unsettled: ${JSON.stringify(a)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Restores `pod` from `checkpoint` with the restore annotation and checks the process continues:
 * the identity it drew at start, and a count from where it was.
 */
export async function expectRestoredAndContinuing(namespace: string, pod: string, checkpoint: string): Promise<void> {
  const before = await counterOf(namespace, pod);
  await kubectl(['annotate', 'pod', pod, '-n', namespace, `checkpoint.example.com/restore-from=${checkpoint}`]);
  const restored = await waitForRestore(namespace, pod, checkpoint);
  expect(restored.status, restored.message).toBe('Succeeded');
  const after = await counterOf(namespace, pod);
  expect(after.id).toBe(before.id);
  expect(after.count).toBeGreaterThanOrEqual(before.count);
}

/**
 * After an uninstall: no namespace of the operator (none stuck Terminating on finalizers), no
 * CRDs, no cluster-wide RBAC, no Checkpoint API left to serve anything.
 */
export async function expectNothingOfTheOperatorLeft(): Promise<void> {
  await expect
    .poll(async () => (await kubectl(['get', 'namespaces', '-o', 'name'])).split('\n'), {
      timeout: 180_000,
      interval: 1000,
    })
    .not.toContain(`namespace/${OPERATOR_NS}`);
  const terminating = JSON.parse(await kubectl(['get', 'namespaces', '-o', 'json'])).items.filter(
    (n: { status: { phase: string } }) => n.status.phase === 'Terminating',
  );
  expect(terminating.map((n: { metadata: { name: string } }) => n.metadata.name)).toEqual([]);
  const crds = await kubectl(['get', 'crd', '-o', 'name']);
  expect(crds).not.toContain('checkpoint.example.com');
  const clusterWide = await kubectl(['get', 'clusterroles,clusterrolebindings', '-o', 'name']);
  expect(clusterWide.split('\n').filter((n) => n.includes('checkpoint'))).toEqual([]);
  const webhooks = await kubectl([
    'get',
    'validatingwebhookconfigurations,mutatingwebhookconfigurations',
    '-o',
    'name',
  ]);
  expect(webhooks.split('\n').filter((n) => n.includes('checkpoint'))).toEqual([]);
}

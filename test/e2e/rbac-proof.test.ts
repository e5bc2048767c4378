import { beforeAll, describe, expect, it } from 'vitest';
import { runWorkload, waitForTerminal } from './support/checkpoints.js';
import { kubectl } from './support/kube.js';

/**
 * A namespace editor may create Checkpoints in their namespace, and the operator acts with more
 * rights than they have. This shows the operator does not lend those rights across namespaces.
 */
const A = 'rbac-proof-a';
const B = 'rbac-proof-b';
const USER = 'mallory';
const OPERATOR_NS = 'checkpoint-operator-system';

const asUser = (args: string[], input?: string) => kubectl([...args, '--as', USER], input);

const checkpointYaml = (name: string, namespace: string, extra = '') => `apiVersion: checkpoint.example.com/v1alpha1
kind: Checkpoint
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  target:
    podName: victim
    namespace: ${B}
${extra}  storage:
    backend: local
    local:
      path: /var/lib/checkpoint-operator/rbac-proof
`;

async function jobsFor(name: string): Promise<string[]> {
  return (
    await kubectl([
      'get',
      'jobs',
      '-n',
      OPERATOR_NS,
      '-l',
      `checkpoint.example.com/owner-namespace=${A},checkpoint.example.com/owner-name=${name}`,
      '-o',
      'name',
    ])
  )
    .split('\n')
    .filter(Boolean);
}

beforeAll(async () => {
  for (const ns of [A, B]) await kubectl(['create', 'namespace', ns]).catch(() => undefined);
  // The user edits namespace A, through the aggregated edit role, and nothing else.
  await kubectl(['create', 'rolebinding', 'mallory-edit', '--clusterrole=edit', `--user=${USER}`, '-n', A]).catch(
    () => undefined,
  );
  await runWorkload(B, 'victim');
  // RBAC caches settle within seconds; the tests need the binding in force.
  const deadline = Date.now() + 30_000;
  while (
    (
      await asUser(['auth', 'can-i', 'create', 'checkpoints.checkpoint.example.com', '-n', A]).catch(() => 'no')
    ).trim() !== 'yes'
  ) {
    if (Date.now() > deadline) throw new Error(`${USER} was never allowed to create Checkpoints in ${A}`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

describe('RBAC: the operator lends no rights across namespaces', () => {
  it("a Checkpoint in the user's namespace aimed at a pod in another fails, and no Job runs", async () => {
    await asUser(['apply', '-f', '-'], checkpointYaml('reach-b', A));
    const c = await waitForTerminal(A, 'reach-b');
    expect(c.status).toMatchObject({ phase: 'Failed', reason: 'CrossNamespaceDenied' });
    expect(await jobsFor('reach-b')).toEqual([]);
    const victim = JSON.parse(await kubectl(['get', 'pod', 'victim', '-n', B, '-o', 'json']));
    expect(victim.status.containerStatuses[0].restartCount).toBe(0);
  });

  it('the user cannot create Checkpoints in the other namespace, nor the policy that would allow it', async () => {
    await expect(asUser(['apply', '-f', '-'], checkpointYaml('direct', B))).rejects.toThrow(/forbidden/i);
    await expect(
      asUser(
        ['apply', '-f', '-'],
        `apiVersion: checkpoint.example.com/v1alpha1\nkind: CheckpointPolicy\nmetadata:\n  name: mallory-allows-b\nspec:\n  targetNamespaces: [${B}]\n`,
      ),
    ).rejects.toThrow(/forbidden/i);
  });

  it('a policy an administrator wrote, listing the namespace, lets the same request through', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: checkpoint.example.com/v1alpha1\nkind: CheckpointPolicy\nmetadata:\n  name: rbac-proof-allows-b\nspec:\n  targetNamespaces: [${B}]\n`,
    );
    await asUser(['apply', '-f', '-'], checkpointYaml('allowed', A, '  policyRef: rbac-proof-allows-b\n'));
    const c = await waitForTerminal(A, 'allowed');
    expect(c.status?.phase, c.status?.message).toBe('Succeeded');
    expect(c.status?.archive?.uri).toContain(`/${A}/allowed/`);
  });

  it("the user cannot name another namespace's Secret for S3 credentials", async () => {
    const yaml = `apiVersion: checkpoint.example.com/v1alpha1
kind: Checkpoint
metadata:
  name: steal-secret
  namespace: ${A}
spec:
  target:
    podName: victim
  storage:
    backend: s3
    s3:
      bucket: checkpoints
      credentialsSecretRef:
        name: checkpoint-operator-s3-credentials
        namespace: ${OPERATOR_NS}
`;
    await expect(asUser(['apply', '-f', '-'], yaml)).rejects.toThrow(/namespace/);
  });
});

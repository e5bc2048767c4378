import { beforeAll, describe, expect, it } from 'vitest';
import { runWorkload, waitForTerminal } from './support/checkpoints.js';
import { clusterContext } from './support/cluster-context.js';
import { kubectl } from './support/kube.js';

const NS = 'metrics-e2e';
const OPERATOR_NS = 'checkpoint-operator-system';

/**
 * Every replica's /metrics at its pod address, as Prometheus scrapes it; reached through the API
 * server's pod proxy, since pod addresses are routed inside the cluster's network only.
 */
async function scrape(): Promise<string[]> {
  const pods = JSON.parse(await kubectl(['get', 'pods', '-n', OPERATOR_NS, '-l', 'control-plane=controller-manager', '-o', 'json']));
  return Promise.all(pods.items.map((p: { metadata: { name: string } }) =>
    kubectl(['get', '--raw', `/api/v1/namespaces/${OPERATOR_NS}/pods/${p.metadata.name}:8080/proxy/metrics`])));
}

function sum(pages: string[], series: string): number {
  return pages.reduce((total, page) => {
    const line = page.split('\n').find((l) => l.startsWith(`${series} `));
    return total + (line ? Number(line.split(' ').pop()) : 0);
  }, 0);
}

const checkpoint = (name: string, pod: string) => `apiVersion: checkpoint.example.com/v1alpha1
kind: Checkpoint
metadata: { name: ${name}, namespace: ${NS} }
spec:
  target: { podName: ${pod} }
  storage: { backend: local, local: { path: /var/lib/checkpoint-operator/archives } }
`;

describe('dispatcher /metrics', () => {
  beforeAll(async () => {
    await kubectl(['create', 'namespace', NS]).catch(() => undefined);
    await runWorkload(NS, 'app');
  });

  it('counts one created and one failed checkpoint once across both replicas, with the seed names', async () => {
    const before = await scrape();
    expect(before).toHaveLength(2);
    for (const page of before) {
      expect(page).toContain('# TYPE checkpoint_operator_checkpoint_total counter');
      expect(page).toContain('checkpoint_operator_restore_total{status="success"}');
    }
    expect(sum(before, 'checkpoint_operator_leader')).toBe(1);
    const created = sum(before, 'checkpoint_operator_checkpoint_total{status="created"}');
    const failed = sum(before, 'checkpoint_operator_checkpoint_total{status="failed"}');

    await kubectl(['apply', '-f', '-'], checkpoint('good', 'app'));
    await kubectl(['apply', '-f', '-'], checkpoint('bad', 'no-such-pod'));
    expect((await waitForTerminal(NS, 'good')).status?.phase).toBe('Succeeded');
    expect((await waitForTerminal(NS, 'bad')).status?.phase).toBe('Failed');

    await expect.poll(async () => {
      const after = await scrape();
      return [sum(after, 'checkpoint_operator_checkpoint_total{status="created"}') - created, sum(after, 'checkpoint_operator_checkpoint_total{status="failed"}') - failed];
    }, { timeout: 15_000 }).toEqual([1, 1]);
    const after = await scrape();
    const age = sum(after, 'checkpoint_operator_checkpoint_age_seconds');
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(120);
    expect(sum(after, 'checkpoint_operator_reconcile_duration_seconds_count{result="done"}')).toBeGreaterThan(0);
  });

  it('counts one restored and one refused restore once across both replicas', async () => {
    const before = await scrape();
    const success = sum(before, 'checkpoint_operator_restore_total{status="success"}');
    const failed = sum(before, 'checkpoint_operator_restore_total{status="failed"}');
    await runWorkload(NS, 'restored');
    await runWorkload(NS, 'refused');
    await kubectl(['annotate', 'pod', 'restored', '-n', NS, 'checkpoint.example.com/restore-from=good']);
    await kubectl(['annotate', 'pod', 'refused', '-n', NS, 'checkpoint.example.com/restore-from=bad']);
    const status = async (pod: string) => JSON.parse(await kubectl(['get', 'pod', pod, '-n', NS, '-o', 'json'])).metadata.annotations['checkpoint.example.com/restore-status'];
    await expect.poll(() => status('restored'), { timeout: 60_000 }).toBe('Succeeded');
    await expect.poll(() => status('refused'), { timeout: 30_000 }).toBe('Failed');
    await expect.poll(async () => {
      const after = await scrape();
      return [sum(after, 'checkpoint_operator_restore_total{status="success"}') - success, sum(after, 'checkpoint_operator_restore_total{status="failed"}') - failed];
    }, { timeout: 15_000 }).toEqual([1, 1]);
  });

  it("holds the Job's figures in the Pushgateway under the Checkpoint's group until the Checkpoint is deleted", async () => {
    const good = await waitForTerminal(NS, 'good');
    const series = async (metric: string, action = 'checkpoint') => {
      const text = await (await fetch(`${clusterContext().pushgatewayUrl}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${metric}{`) && l.includes('job="checkpoint-operator"')
        && l.includes(`action="${action}"`) && l.includes(`namespace="${NS}"`) && l.includes('name="good"'));
      return line === undefined ? undefined : Number(line.split(' ').pop());
    };
    // The Job pushes after recording its result, so the group may trail the status briefly.
    await expect.poll(() => series('checkpoint_operator_job_succeeded'), { timeout: 15_000 }).toBe(1);
    expect(await series('checkpoint_operator_job_archive_bytes')).toBe(good.status!.archive!.sizeBytes);
    expect(await series('checkpoint_operator_job_duration_seconds')).toBeGreaterThan(0);
    const lastSuccess = await series('checkpoint_operator_job_last_success_timestamp_seconds');
    expect(Math.abs(lastSuccess! - Date.parse(String(good.status!.completionTime)) / 1000)).toBeLessThan(30);

    // The restore Job of the test above pushed under the same Checkpoint, as action "restore".
    await expect.poll(() => series('checkpoint_operator_job_succeeded', 'restore'), { timeout: 15_000 }).toBe(1);

    await kubectl(['delete', 'checkpoints.checkpoint.example.com', 'good', '-n', NS, '--wait=true']);
    await expect.poll(() => series('checkpoint_operator_job_succeeded'), { timeout: 15_000 }).toBeUndefined();
    await expect.poll(() => series('checkpoint_operator_job_succeeded', 'restore'), { timeout: 15_000 }).toBeUndefined();
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { runWorkload, waitForTerminal } from './support/checkpoints.js';
import { clusterContext } from './support/cluster-context.js';
import { kubectl } from './support/kube.js';
import { MetricsScraper, operatorPodIPs } from './support/metrics-scraper.js';

const NS = 'metrics-e2e';

let scraper: MetricsScraper;

/**
 * Every replica's /metrics as Prometheus scrapes it: at its pod address on the secure port, with
 * a ServiceAccount token bound to the checkpoint-operator-metrics-reader ClusterRole.
 */
async function scrape(): Promise<string[]> {
  return Promise.all(
    (await operatorPodIPs()).map(async (ip) => {
      const r = await scraper.get(`https://${ip}:8443/metrics`, 'serviceaccount');
      if (r.status !== 200) throw new Error(`scraping ${ip}:8443 answered ${r.status} ${r.error ?? r.body}`);
      return r.body!;
    }),
  );
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
    await kubectl([
      'create',
      'clusterrolebinding',
      'metrics-e2e-reader',
      '--clusterrole=checkpoint-operator-metrics-reader',
      `--serviceaccount=${NS}:reader`,
    ]).catch(() => undefined);
    [scraper] = await Promise.all([MetricsScraper.start(NS, 'scraper', 'reader'), runWorkload(NS, 'app')]);
  });

  describe('on the secure port (8443), as the shipped manifests serve them', () => {
    it('answers a ServiceAccount bound to checkpoint-operator-metrics-reader, over TLS, with a certificate for the metrics Service', async () => {
      const [ip] = await operatorPodIPs();
      const r = await scraper.get(`https://${ip}:8443/metrics`, 'serviceaccount');
      expect(r.status).toBe(200);
      expect(r.body).toContain('# TYPE checkpoint_operator_checkpoint_total counter');
      expect(r.certificate).toContain('DNS:checkpoint-operator-metrics.checkpoint-operator-system.svc');
    });

    it('refuses a request without a token (401), a token the API server does not know (401), and an identity without the role (403)', async () => {
      const [ip] = await operatorPodIPs();
      const target = `https://${ip}:8443/metrics`;
      const anonymous = await scraper.get(target, 'none');
      expect(anonymous.status).toBe(401);
      expect(anonymous.body).toContain('bearer token is required');
      expect((await scraper.get(target, 'not-a-token')).status).toBe(401);
      // The same kind of token, for an account nobody granted the role.
      await kubectl(['create', 'serviceaccount', 'stranger', '-n', NS]).catch(() => undefined);
      const strangerToken = (await kubectl(['create', 'token', 'stranger', '-n', NS])).trim();
      const stranger = await scraper.get(target, strangerToken);
      expect(stranger.status).toBe(403);
      expect(stranger.body).toContain(`system:serviceaccount:${NS}:stranger may not get /metrics`);
      expect(stranger.body).not.toContain('checkpoint_operator_');
    });

    it('keeps the plain port (8080) inside the pod: nothing else in the cluster reaches it', async () => {
      const [ip] = await operatorPodIPs();
      const plain = await scraper.get(`http://${ip}:8080/metrics`, 'none');
      expect(plain.status).toBe(0);
      expect(plain.error).toBe('ECONNREFUSED');
    });
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

    await expect
      .poll(
        async () => {
          const after = await scrape();
          return [
            sum(after, 'checkpoint_operator_checkpoint_total{status="created"}') - created,
            sum(after, 'checkpoint_operator_checkpoint_total{status="failed"}') - failed,
          ];
        },
        { timeout: 15_000 },
      )
      .toEqual([1, 1]);
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
    const status = async (pod: string) =>
      JSON.parse(await kubectl(['get', 'pod', pod, '-n', NS, '-o', 'json'])).metadata.annotations[
        'checkpoint.example.com/restore-status'
      ];
    await expect.poll(() => status('restored'), { timeout: 60_000 }).toBe('Succeeded');
    await expect.poll(() => status('refused'), { timeout: 30_000 }).toBe('Failed');
    await expect
      .poll(
        async () => {
          const after = await scrape();
          return [
            sum(after, 'checkpoint_operator_restore_total{status="success"}') - success,
            sum(after, 'checkpoint_operator_restore_total{status="failed"}') - failed,
          ];
        },
        { timeout: 15_000 },
      )
      .toEqual([1, 1]);
  });

  it("holds the Job's figures in the Pushgateway under the Checkpoint's group until the Checkpoint is deleted", async () => {
    const good = await waitForTerminal(NS, 'good');
    const series = async (metric: string, action = 'checkpoint') => {
      const text = await (await fetch(`${clusterContext().pushgatewayUrl}/metrics`)).text();
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith(`${metric}{`) &&
            l.includes('job="checkpoint-operator"') &&
            l.includes(`action="${action}"`) &&
            l.includes(`namespace="${NS}"`) &&
            l.includes('name="good"'),
        );
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
    await expect
      .poll(() => series('checkpoint_operator_job_succeeded', 'restore'), { timeout: 15_000 })
      .toBeUndefined();
  });
});

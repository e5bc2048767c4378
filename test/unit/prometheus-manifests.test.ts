import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { systemClock } from '../../src/clock/clock.js';
import { DispatcherMetrics } from '../../src/observability/metrics.js';
import { JOB_METRICS } from '../../src/observability/pushgateway.js';

const dir = join(import.meta.dirname, '../../manifests');
const load = (path: string) => parse(readFileSync(join(dir, path), 'utf8'));

describe('manifests/prometheus', () => {
  it('alerts only on metrics the operator and its Jobs export', async () => {
    const exported = new Set(
      (await new DispatcherMetrics({ clock: systemClock, queueDepth: () => 0 }).registry.getMetricsAsJSON()).map(
        (m) => m.name,
      ),
    );
    for (const m of JOB_METRICS) exported.add(`checkpoint_operator_job_${m}`);
    const rule = load('prometheus/prometheus-rule.yaml');
    const alerts = rule.spec.groups.flatMap((g: { rules: { alert: string; expr: string }[] }) => g.rules);
    expect(alerts.map((a: { alert: string }) => a.alert)).toEqual(
      expect.arrayContaining(['CheckpointsFailing', 'RestoresFailing', 'CheckpointSweepsStopped']),
    );
    for (const a of alerts) {
      const names = [...String(a.expr).matchAll(/checkpoint_operator_[a-z_]+/g)].map((m) =>
        m[0].replace(/_(bucket|sum|count)$/, ''),
      );
      expect(names.length, a.alert).toBeGreaterThan(0);
      for (const name of names) expect(exported, `${a.alert} uses ${name}`).toContain(name);
    }
  });

  it('scrapes the metrics Service the operator installs, and keeps pushed labels', () => {
    const service = load('manager/metrics-service.yaml');
    const monitor = load('prometheus/service-monitor.yaml');
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) expect(service.metadata.labels[k]).toBe(v);
    expect(service.spec.ports.map((p: { name: string }) => p.name)).toContain(monitor.spec.endpoints[0].port);
    expect(load('prometheus/pushgateway-scrape.yaml').spec.endpoints[0].honorLabels).toBe(true);
  });
});

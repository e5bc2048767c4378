import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { pushGroup, pushJobRun } from '../../src/observability/pushgateway.js';
import { freePort } from '../cluster/ports.js';

const run = {
  action: 'checkpoint',
  owner: { namespace: 'team-a', name: 'ckpt-1' },
  succeeded: true,
  durationSeconds: 2.5,
  bytes: 1024,
  finishedAt: 1_790_000_000_000,
};

function recordingLog() {
  const warnings: unknown[] = [];
  return { warnings, log: { warn: (...a: unknown[]) => warnings.push(a), info() {}, error() {}, debug() {} } as never };
}

describe('Pushgateway figures of a Job run', () => {
  it('groups by action, namespace and name, none of which can hold a slash', () => {
    expect(pushGroup('checkpoint', run.owner)).toEqual({
      jobName: 'checkpoint-operator',
      groupings: { action: 'checkpoint', namespace: 'team-a', name: 'ckpt-1' },
    });
  });

  it('replaces the group with PUT and the run figures', async () => {
    const seen: { method?: string; url?: string; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req
        .on('data', (c: Buffer) => {
          body += c.toString();
        })
        .on('end', () => {
          seen.push({ method: req.method, url: req.url, body });
          res.writeHead(200).end();
        });
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    try {
      await pushJobRun(`http://127.0.0.1:${port}`, run, recordingLog().log);
    } finally {
      server.close();
    }
    expect(seen).toHaveLength(1);
    expect(seen[0]!.method).toBe('PUT');
    expect(seen[0]!.url).toBe('/metrics/job/checkpoint-operator/action/checkpoint/namespace/team-a/name/ckpt-1');
    expect(seen[0]!.body).toContain('checkpoint_operator_job_succeeded 1');
    expect(seen[0]!.body).toContain('checkpoint_operator_job_archive_bytes 1024');
    expect(seen[0]!.body).toContain('checkpoint_operator_job_last_success_timestamp_seconds 1790000000');
  });

  it('never throws when the Pushgateway is unreachable: the Job has its result already', async () => {
    const { warnings, log } = recordingLog();
    await expect(pushJobRun(`http://127.0.0.1:${await freePort()}`, run, log)).resolves.toBeUndefined();
    expect(JSON.stringify(warnings)).toContain('could not push metrics to the Pushgateway');
  });
});

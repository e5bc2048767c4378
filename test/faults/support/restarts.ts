import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clusterContext } from '../../e2e/support/cluster-context.js';
import { kubectl } from '../../e2e/support/kube.js';
import { OPERATOR_NS } from './fleet.js';

/** Why a dispatcher container ended, as its last log lines and its kubelet say. */
export type RestartCause =
  /** It could not renew its lease within the renew deadline and exited, as it must (an API outage, or it was frozen). */
  | 'stepped down at its renew deadline'
  /** Killed by a signal from outside (the fault's SIGKILL, or the OOM killer). */
  | 'killed'
  /** Anything else: an exit the dispatcher did not mean. */
  | 'crashed';

export interface DispatcherRestart {
  pod: string;
  /**
   * When the container ended (ms since the epoch), as its kubelet recorded it; when the watcher
   * saw it if the kubelet did not say. A case owns the restarts that ended during it: a replica
   * that exits near a case's end is often restarted (after its back-off) once the next case has
   * begun, and is still the earlier case's.
   */
  at: number;
  /** How many restarts the count went up by (more than one when they came faster than the poll). */
  count: number;
  cause: RestartCause;
  /** Exit code or signal, and the log line that decided the cause. */
  detail: string;
}

interface PodView {
  metadata: { name: string; uid: string };
  spec: { nodeName?: string };
  status: {
    containerStatuses?: {
      name: string;
      restartCount: number;
      lastState?: { terminated?: { exitCode?: number; signal?: number; reason?: string; finishedAt?: string } };
    }[];
  };
}

/**
 * Watches the dispatcher's pods and, for every restart, reads why the container ended: the
 * terminated state the kubelet recorded and the end of the previous container's log. A fault
 * case then tells the restarts it caused on purpose from the ones it must not cause.
 */
export class RestartWatcher {
  readonly restarts: DispatcherRestart[] = [];
  private readonly seen = new Map<string, number>();
  private running = false;
  private loop: Promise<void> | undefined;

  async start(): Promise<void> {
    await this.poll(true);
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await new Promise((r) => setTimeout(r, 1000));
        await this.poll(false).catch(() => undefined);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Restarts of containers that ended since `from` (ms since the epoch), after one more look. */
  async since(from: number): Promise<DispatcherRestart[]> {
    await this.poll(false).catch(() => undefined);
    return this.restarts.filter((r) => r.at >= from);
  }

  private async poll(baseline: boolean): Promise<void> {
    const pods = (
      JSON.parse(
        await kubectl(['get', 'pods', '-n', OPERATOR_NS, '-l', 'control-plane=controller-manager', '-o', 'json']),
      ) as { items: PodView[] }
    ).items;
    for (const pod of pods) {
      const status = (pod.status.containerStatuses ?? []).find((c) => c.name === 'manager');
      if (!status) continue;
      const before = this.seen.get(pod.metadata.name);
      this.seen.set(pod.metadata.name, status.restartCount);
      if (baseline || status.restartCount <= (before ?? 0)) continue;
      const previousLog = await previousContainerLog(pod, status.restartCount - 1);
      const endedAt = Date.parse(status.lastState?.terminated?.finishedAt ?? '');
      this.restarts.push({
        pod: pod.metadata.name,
        at: Number.isNaN(endedAt) ? Date.now() : endedAt,
        count: status.restartCount - (before ?? 0),
        ...classify(status.lastState?.terminated, previousLog),
      });
    }
  }
}

/**
 * The log of the container that ended, from the node's disk where the kubelet keeps it
 * (/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log, a node's /var being
 * <cluster>/nodes/<node>/var), else through kubectl logs --previous.
 */
async function previousContainerLog(pod: PodView, restart: number): Promise<string> {
  const file = join(
    clusterContext().clusterDir,
    'nodes',
    pod.spec.nodeName ?? '',
    'var/log/pods',
    `${OPERATOR_NS}_${pod.metadata.name}_${pod.metadata.uid}`,
    'manager',
    `${restart}.log`,
  );
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text !== undefined)
    return text
      .split('\n')
      .slice(-40)
      .map((l) => l.replace(/^\S+ (stdout|stderr) [FP] /, ''))
      .join('\n');
  return await kubectl([
    'logs',
    '-n',
    OPERATOR_NS,
    pod.metadata.name,
    '-c',
    'manager',
    '--previous',
    '--tail=40',
  ]).catch(() => '');
}

/** The cause, from the container's terminated state and the last lines it logged. */
export function classify(
  terminated: { exitCode?: number; signal?: number; reason?: string } | undefined,
  previousLog: string,
): { cause: RestartCause; detail: string } {
  const exit = terminated
    ? `exit ${terminated.exitCode ?? '?'}${terminated.signal ? ` signal ${terminated.signal}` : ''}${terminated.reason ? ` (${terminated.reason})` : ''}`
    : 'exit unknown';
  const lines = previousLog.split('\n').filter(Boolean);
  const stepDown = lines.find((l) => l.includes('could not renew the lease in time'));
  if (stepDown) return { cause: 'stepped down at its renew deadline', detail: `${exit}; ${messageOf(stepDown)}` };
  if (terminated?.exitCode === 137 || terminated?.signal === 9 || terminated?.reason === 'OOMKilled')
    return { cause: 'killed', detail: exit };
  const last = [...lines].reverse().find((l) => /"level":(50|60)/.test(l)) ?? lines.at(-1) ?? 'no log';
  return { cause: 'crashed', detail: `${exit}; last log: ${messageOf(last)}` };
}

function messageOf(line: string): string {
  try {
    const j = JSON.parse(line) as { msg?: string; err?: string };
    return [j.msg, j.err].filter(Boolean).join(': ') || line;
  } catch {
    return line.slice(0, 200);
  }
}

/** A line for the report: "checkpoint-operator-x: stepped down at its renew deadline (exit 1; …)". */
export function describeRestarts(restarts: DispatcherRestart[]): string {
  if (restarts.length === 0) return 'no dispatcher restarts';
  return restarts.map((r) => `${r.pod}${r.count > 1 ? ` ×${r.count}` : ''}: ${r.cause} (${r.detail})`).join('; ');
}

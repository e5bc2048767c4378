import { freePort } from './ports.js';
import { type ManagedProcess, startProcess } from './processes.js';

export interface PushgatewayServer {
  /** http://127.0.0.1:<port>: the same address from this machine and, once exposed, from pods. */
  url: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export const PUSHGATEWAY_BINARY = '/usr/bin/prometheus-pushgateway';

/** The real Prometheus Pushgateway (Debian's prometheus-pushgateway) on loopback, in memory. */
export async function startPushgateway(dir: string): Promise<PushgatewayServer> {
  const port = await freePort();
  const proc = startProcess(dir, 'pushgateway', PUSHGATEWAY_BINARY, ['--web.listen-address', `127.0.0.1:${port}`, '--web.enable-admin-api']);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.hasExited()) throw new Error(`pushgateway exited (${await proc.exited}):\n${await proc.logTail()}`);
    if ((await fetch(`${url}/-/ready`).catch(() => undefined))?.ok) break;
    if (Date.now() > deadline) throw new Error(`pushgateway was not ready within 30s:\n${await proc.logTail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, port, process: proc, stop: () => proc.stop() };
}

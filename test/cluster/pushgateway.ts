import { hostPort, loopbackHost, type ServerHost } from './network/server-host.js';
import { type ManagedProcess, startProcess } from './processes.js';

export interface PushgatewayServer {
  /** http://<host>:<port>: the same address from this machine and from pods. */
  url: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export const PUSHGATEWAY_BINARY = '/usr/bin/prometheus-pushgateway';

/** The real Prometheus Pushgateway (Debian's prometheus-pushgateway), in memory. */
export async function startPushgateway(dir: string, host: ServerHost = loopbackHost): Promise<PushgatewayServer> {
  const port = await host.freePort();
  const address = hostPort(host, port);
  const proc = startProcess(
    dir,
    'pushgateway',
    PUSHGATEWAY_BINARY,
    ['--web.listen-address', address, '--web.enable-admin-api'],
    process.env,
    host,
  );
  const url = `http://${address}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.hasExited()) throw new Error(`pushgateway exited (${await proc.exited}):\n${await proc.logTail()}`);
    if ((await fetch(`${url}/-/ready`).catch(() => undefined))?.ok) break;
    if (Date.now() > deadline) throw new Error(`pushgateway was not ready within 30s:\n${await proc.logTail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, port, process: proc, stop: () => proc.stop() };
}

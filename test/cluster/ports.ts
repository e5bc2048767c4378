import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A loopback TCP port free right now, below the kernel's ephemeral range. The servers of the
 * local cluster are stopped and started again on their port (API server, etcd, MinIO in fault
 * tests); a port from the ephemeral range could meanwhile be taken as the local end of any
 * outgoing connection on this machine, and the restart would fail with EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  const low = 10_000;
  const high = Math.max(low + 1000, ephemeralLow - 1);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free loopback port between ${low} and ${high}`);
}

function ephemeralRange(): [number, number] {
  try {
    const [a, b] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (a && b) return [a, b];
  } catch {
    // not Linux: the IANA range
  }
  return [49152, 65535];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

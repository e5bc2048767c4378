import { existsSync } from 'node:fs';
import type { Server } from 'node:net';
import { freePort } from '../ports.js';
import { listenInNetns } from './netns-listener.js';

/** iproute2's `ip`, by path: programs are started with environments that may not list sbin. */
export const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p)) ?? 'ip';

/**
 * Where a server of the local cluster listens: an address, and the network namespace holding it.
 * The cluster's servers live in a namespace of their own (see cluster-network.ts), so pods and
 * this machine reach them by the kernel's routing at one address; programs that need no cluster
 * (a benchmark's MinIO, a unit test's server) use this machine's loopback.
 */
export interface ServerHost {
  ip: string;
  /** The network namespace the address is in; undefined for this machine's own. */
  netns: string | undefined;
  /** A TCP port nothing on this host listens on yet. */
  freePort(): Promise<number>;
  /** The argv that runs argv on this host (in its network namespace). */
  command(argv: string[]): string[];
  /** A listening socket on ip:port of this host, served by this process (for test servers). */
  listen(port: number): Promise<Server>;
}

export const loopbackHost: ServerHost = {
  ip: '127.0.0.1',
  netns: undefined,
  freePort,
  command: (argv) => argv,
  listen: (port) => listenHere('127.0.0.1', port),
};

/**
 * A host in a network namespace. Only the local cluster's own servers listen there, so a port is
 * free when a listener can be opened on it; ports are taken below the ephemeral range, so a
 * server restarted on its port never finds it taken by an outgoing connection.
 */
export function namespacedHost(netns: string, ip: string): ServerHost {
  return {
    ip,
    netns,
    async freePort() {
      for (let attempt = 0; attempt < 50; attempt++) {
        const port = 20_000 + Math.floor(Math.random() * 12_000);
        const probe = await listenInNetns(netns, ip, port).catch(() => undefined);
        if (!probe) continue;
        await new Promise<void>((resolve) => probe.close(() => resolve()));
        return port;
      }
      throw new Error(`no free port on ${ip} in ${netns}`);
    },
    command: (argv) => [IP, 'netns', 'exec', netns, ...argv],
    listen: (port) => listenInNetns(netns, ip, port),
  };
}

/** `host:port`, with brackets for IPv6. */
export function hostPort(host: ServerHost, port: number): string {
  return host.ip.includes(':') ? `[${host.ip}]:${port}` : `${host.ip}:${port}`;
}

async function listenHere(ip: string, port: number): Promise<Server> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, ip, () => resolve()));
  return server;
}

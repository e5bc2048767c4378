import { connect, createServer, type Socket } from 'node:net';
import { listenInNetns } from './netns-listener.js';

/**
 * Makes a service on this machine's loopback (the API server, the S3 server…) reachable at the
 * same 127.0.0.1:port from inside a node's network namespace, the way a cluster makes the API
 * server reachable from pods. Each connection is piped by this process.
 */
export async function forwardLoopbackIntoNetns(netns: string, port: number): Promise<{ close(): Promise<void> }> {
  const handle = await listenInNetns(netns, '127.0.0.1', port);
  const sockets = new Set<Socket>();
  // Half-open sockets, as TCP: an end in one direction is passed on (pipe ends its destination)
  // while the other direction drains, so a server that answers and closes before reading the
  // whole request (S3 refusing credentials) is still heard by the client.
  const server = createServer({ allowHalfOpen: true }, (inside) => {
    const outside = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    sockets.add(inside).add(outside);
    inside.on('error', () => { outside.destroy(); inside.destroy(); }).on('close', () => { sockets.delete(inside); outside.destroy(); });
    // The server went away: deliver what it said, then end the client's side.
    outside.on('error', () => { inside.end(); outside.destroy(); }).on('close', () => { sockets.delete(outside); inside.end(); });
    inside.pipe(outside);
    outside.pipe(inside);
  });
  await new Promise<void>((resolve) => server.listen(handle, resolve));
  return {
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

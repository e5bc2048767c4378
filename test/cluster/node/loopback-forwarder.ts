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
  const server = createServer((inside) => {
    const outside = connect(port, '127.0.0.1');
    sockets.add(inside).add(outside);
    const drop = () => { inside.destroy(); outside.destroy(); sockets.delete(inside); sockets.delete(outside); };
    inside.on('error', drop).on('close', drop);
    outside.on('error', drop).on('close', drop);
    inside.pipe(outside).pipe(inside);
  });
  await new Promise<void>((resolve) => server.listen(handle, resolve));
  return {
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { loopbackHost, type ServerHost } from '../../cluster/network/server-host.js';

/**
 * A TCP pass-through that holds every connection until it is opened: a client behind it sees an
 * API server that accepts connections and answers nothing, as one does while it is starting or
 * overloaded. TLS passes through untouched. It is a fault a test injects, so its bytes pass
 * through the test process on purpose; it listens on loopback, or on the cluster host for pods.
 */
export class TcpGate {
  private open = false;
  private readonly held: Socket[] = [];
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
  ) {}

  /** port: where to listen on host (a spare port of the cluster host, for a gate in front of something pods use); 0 picks one on loopback. */
  static async start(
    target: { host: string; port: number },
    port = 0,
    host: ServerHost = loopbackHost,
  ): Promise<TcpGate> {
    const server = createServer();
    const gate = new TcpGate(server, target);
    server.on('connection', (socket) => gate.accept(socket));
    const socket = await host.listen(port);
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    return gate;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** Connections accepted and held, not yet let through. */
  get heldConnections(): number {
    return this.held.filter((s) => !s.destroyed).length;
  }

  /** Lets held and later connections through. */
  release(): void {
    this.open = true;
    for (const socket of this.held.splice(0)) this.forward(socket);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (this.open) this.forward(socket);
    else {
      socket.pause();
      this.held.push(socket);
    }
  }

  private forward(socket: Socket): void {
    const upstream = createConnection(this.target);
    this.sockets.add(upstream);
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      socket.destroy();
    });
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    socket.pipe(upstream).pipe(socket);
    socket.resume();
  }
}

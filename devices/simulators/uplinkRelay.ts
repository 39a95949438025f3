/**
 * A TCP relay between a gateway and the hub's MQTT port, which the demo can
 * cut and restore: a home losing its internet connection. Cutting drops the
 * open connections abruptly (the hub publishes the gateway's last will,
 * SPEC §2) and refuses new ones until restored; the gateway keeps its
 * readings on disk and retries with backoff (SPEC §8).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class UplinkRelay {
  private server: Server | null = null;
  private readonly pairs = new Set<[Socket, Socket]>();
  private down = false;
  private boundPort = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** The relay's own port on 127.0.0.1 (after `start`). */
  get port(): number {
    return this.boundPort;
  }

  get isCut(): boolean {
    return this.down;
  }

  async start(): Promise<void> {
    const server = createServer((client) => this.relay(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.boundPort = (server.address() as { port: number }).port;
  }

  cut(): void {
    this.down = true;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  restore(): void {
    this.down = false;
  }

  async stop(): Promise<void> {
    this.cut();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private relay(client: Socket): void {
    if (this.down) {
      client.destroy();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

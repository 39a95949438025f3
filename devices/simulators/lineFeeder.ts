/**
 * A client of the gateway's JSON-lines input (SPEC §8, loopback TCP): writes
 * one line per reading and resolves each with the gateway's answer, which
 * comes back one line per line, in order.
 */
import { connect, type Socket } from 'node:net';

/** The gateway's answer to a line (gateway/README.md "Inputs"). */
export type LineAnswer =
  | { ok: true; id: string; duplicate?: true }
  | { ok: false; error: string; detail: string; field?: string; id?: string };

export class LineFeeder {
  private socket: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private buffered = '';
  private readonly waiting: Array<{ resolve: (a: LineAnswer) => void; reject: (e: Error) => void }> = [];
  private closed = false;

  constructor(private readonly port: number, private readonly host = '127.0.0.1') {}

  /** Sends one line; resolves with its answer. */
  async send(line: object): Promise<LineAnswer> {
    const socket = await this.open();
    return new Promise<LineAnswer>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      socket.write(`${JSON.stringify(line)}\n`);
    });
  }

  close(): void {
    this.closed = true;
    this.socket?.end();
    this.socket = null;
    this.fail(new Error('feeder closed'));
  }

  private open(): Promise<Socket> {
    if (this.closed) return Promise.reject(new Error('feeder closed'));
    if (this.socket) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const socket = connect(this.port, this.host);
      socket.setEncoding('utf8');
      socket.once('connect', () => {
        this.socket = socket;
        this.connecting = null;
        resolve(socket);
      });
      socket.on('data', (chunk: string) => this.receive(chunk));
      socket.on('error', (err) => {
        this.connecting = null;
        reject(err);
      });
      socket.on('close', () => {
        if (this.socket === socket) this.socket = null;
        this.fail(new Error('gateway input closed'));
      });
    });
    return this.connecting;
  }

  private receive(chunk: string): void {
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const text = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (text.trim() === '') continue;
      this.waiting.shift()?.resolve(JSON.parse(text) as LineAnswer);
    }
  }

  private fail(err: Error): void {
    this.buffered = '';
    for (const w of this.waiting.splice(0)) w.reject(err);
  }
}

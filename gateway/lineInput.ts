/**
 * JSON-lines inputs (SPEC §8): a TCP port on the loopback interface only (a
 * local simulator, a Bluetooth helper) and stdin. Every line read from TCP
 * gets one JSON line back, in order; lines that arrive together are committed
 * together (one fsync), which is what lets a fast producer go fast.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { MAX_LINE_BYTES, type Answer, type Intake } from './intake.js';

/** Splits a byte stream into lines; an over-long line is replaced by `null` (answered, not parsed). */
export class LineSplitter {
  private buffered = '';
  private overflowing = false;

  constructor(private readonly maxBytes = MAX_LINE_BYTES) {}

  push(chunk: string): Array<string | null> {
    const out: Array<string | null> = [];
    let text = this.buffered + chunk;
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl).replace(/\r$/, '');
      text = text.slice(nl + 1);
      if (this.overflowing) {
        this.overflowing = false;
        out.push(null);
      } else if (line.trim() !== '') out.push(line);
    }
    if (text.length > this.maxBytes) {
      this.overflowing = true;
      text = '';
    }
    this.buffered = text;
    return out;
  }

  /** What is left at the end of the stream (a last line without a newline). */
  end(): Array<string | null> {
    const rest = this.buffered;
    this.buffered = '';
    if (this.overflowing) return [null];
    return rest.trim() === '' ? [] : [rest];
  }
}

const TOO_LONG: Answer = { ok: false, error: 'line_too_long', detail: `a line is at most ${MAX_LINE_BYTES} bytes` };

function answerAll(intake: Intake, lines: Array<string | null>, log: Logger): Answer[] {
  const answers: Answer[] = [];
  let run: string[] = [];
  const flush = () => {
    if (run.length === 0) return;
    try {
      answers.push(...intake.acceptLines(run));
    } catch (err) {
      // A bug must not take the gateway down with it: answer, log, keep serving.
      log.error({ err }, 'input lines failed');
      answers.push(...run.map((): Answer => ({ ok: false, error: 'internal_error', detail: 'the gateway could not handle this line' })));
    }
    run = [];
  };
  for (const line of lines) {
    if (line === null) {
      flush();
      answers.push(TOO_LONG);
    } else run.push(line);
  }
  flush();
  return answers;
}

export class TcpLineInput {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;

  constructor(private readonly deps: { port: number; intake: Intake; log: Logger }) {}

  /** The port actually listened on (when configured as 0). */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const server = createServer((socket) => this.serve(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Loopback only: anything on the home network that could reach this port could fake a fall.
      server.listen(this.deps.port, '127.0.0.1', () => resolve());
    });
    this.boundPort = (server.address() as { port: number }).port;
    this.deps.log.info({ port: this.boundPort }, 'JSON-lines input listening on 127.0.0.1');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.setEncoding('utf8');
    const splitter = new LineSplitter();
    const reply = (lines: Array<string | null>) => {
      if (lines.length === 0 || socket.destroyed) return;
      const text = answerAll(this.deps.intake, lines, this.deps.log).map((a) => JSON.stringify(a) + '\n').join('');
      // A client that does not read its answers is not read from either.
      if (!socket.write(text)) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    };
    socket.on('data', (chunk: string) => reply(splitter.push(chunk)));
    socket.on('end', () => {
      reply(splitter.end());
      socket.end();
    });
    socket.on('error', (err) => this.deps.log.debug({ err: err.message }, 'input connection error'));
    socket.on('close', () => this.sockets.delete(socket));
  }
}

/** Lines on stdin; the answers go to the log (stdout carries the log). */
export class StreamLineInput {
  private readonly splitter = new LineSplitter();

  constructor(private readonly deps: { stream: Readable; intake: Intake; log: Logger }) {}

  start(): void {
    const { stream } = this.deps;
    stream.setEncoding('utf8');
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
  }

  stop(): void {
    const { stream } = this.deps;
    stream.off('data', this.onData);
    stream.off('end', this.onEnd);
    stream.off('error', this.onError);
    stream.pause();
  }

  private readonly onData = (chunk: string) => this.answer(this.splitter.push(chunk));
  private readonly onEnd = () => this.answer(this.splitter.end());
  private readonly onError = (err: Error) => this.deps.log.warn({ err: err.message }, 'stdin input error');

  private answer(lines: Array<string | null>): void {
    for (const a of answerAll(this.deps.intake, lines, this.deps.log)) {
      if (a.ok) this.deps.log.debug({ readingId: a.id, duplicate: a.duplicate }, 'stdin reading accepted');
      else this.deps.log.warn({ code: a.error, field: a.field, readingId: a.id }, 'stdin line refused');
    }
  }
}

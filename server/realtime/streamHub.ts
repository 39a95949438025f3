/**
 * The live stream for dashboards: WebSocket `/api/v1/stream` (SPEC §6). Each
 * client gets the events it may see, each with its `seq`. A client that sends
 * `{"resume": lastSeq}` first receives every event after lastSeq from the
 * durable log, in order, then live ones; the replay is synchronous, so no live
 * event can slip in between. Events older than the log's retention cannot be
 * replayed: the client is told `{"type":"resync"}` and reloads its lists.
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { DirectoryStore } from '../store/directoryStore.js';
import type { User } from '../store/userStore.js';
import type { EventLog, StreamEvent } from './eventLog.js';

interface Subscriber {
  socket: WebSocket;
  user: User;
  /** A doctor's patients, refreshed on each use of a stale cache. */
  patients: Set<string> | null;
  live: boolean;
}

const REPLAY_PAGE = 1000;
/** A client this far behind on its socket buffer is cut off rather than let memory grow. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export class StreamHub {
  private readonly subscribers = new Set<Subscriber>();

  constructor(private readonly log: EventLog, private readonly directory: DirectoryStore, private readonly logger: Logger) {
    log.onCommitted((events) => this.broadcast(events));
  }

  get size(): number {
    return this.subscribers.size;
  }

  /** Takes a signed-in user's socket. Live at once; a `resume` message replays first. */
  accept(socket: WebSocket, user: User): void {
    const sub: Subscriber = { socket, user, patients: null, live: true };
    this.subscribers.add(sub);
    socket.on('close', () => this.subscribers.delete(sub));
    socket.on('error', () => this.subscribers.delete(sub));
    socket.on('message', (raw) => this.onMessage(sub, raw.toString()));
    this.send(sub, { type: 'hello', seq: this.log.latestSeq(), user: { username: user.username, role: user.role } });
  }

  close(): void {
    for (const s of this.subscribers) s.socket.close(1001, 'hub shutting down');
    this.subscribers.clear();
  }

  private onMessage(sub: Subscriber, raw: string): void {
    let msg: { resume?: unknown };
    try {
      msg = JSON.parse(raw) as { resume?: unknown };
    } catch {
      this.send(sub, { type: 'error', error: 'invalid_json', message: 'messages are JSON, e.g. {"resume": 42}' });
      return;
    }
    if (typeof msg.resume !== 'number' || !Number.isInteger(msg.resume) || msg.resume < 0) {
      this.send(sub, { type: 'error', error: 'invalid_request', field: 'resume', message: 'resume must be the last seq received (an integer ≥ 0)' });
      return;
    }
    this.replay(sub, msg.resume);
  }

  private replay(sub: Subscriber, after: number): void {
    const oldest = this.log.oldestSeq();
    if (oldest !== null && after < oldest - 1) this.send(sub, { type: 'resync', oldestSeq: oldest, message: 'events before oldestSeq are no longer kept; reload lists' });
    let cursor = after;
    for (;;) {
      const page = this.log.since(cursor, REPLAY_PAGE);
      for (const e of page) if (this.visible(sub, e)) this.send(sub, wire(e));
      if (page.length < REPLAY_PAGE) break;
      cursor = page[page.length - 1]!.seq;
    }
    this.send(sub, { type: 'resumed', seq: this.log.latestSeq() });
  }

  private broadcast(events: StreamEvent[]): void {
    for (const sub of this.subscribers) {
      if (!sub.live) continue;
      if (sub.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
        this.logger.warn({ username: sub.user.username }, 'stream client too slow; closing it (it will resume)');
        sub.socket.close(1013, 'too slow; reconnect and resume');
        this.subscribers.delete(sub);
        continue;
      }
      sub.patients = null;
      for (const e of events) if (this.visible(sub, e)) this.send(sub, wire(e));
    }
  }

  /** Operators see everything; a doctor their patients and what was escalated to them; an admin device status. */
  private visible(sub: Subscriber, e: StreamEvent): boolean {
    const { role, username } = sub.user;
    if (role === 'operator') return true;
    if (role === 'admin') return e.type === 'device.status';
    if (e.type === 'device.status') return false;
    if ((e.data.escalation as { to?: string } | null | undefined)?.to === username) return true;
    if (!e.residentId) return false;
    sub.patients ??= new Set(this.directory.residents({ doctor: username }).map((r) => r.id));
    return sub.patients.has(e.residentId);
  }

  private send(sub: Subscriber, msg: object): void {
    if (sub.socket.readyState === sub.socket.OPEN) sub.socket.send(JSON.stringify(msg));
  }
}

function wire(e: StreamEvent) {
  return { seq: e.seq, type: e.type, at: new Date(e.at).toISOString(), data: e.data };
}

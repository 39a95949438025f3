/**
 * The live stream for dashboards: WebSocket `/api/v1/stream` (SPEC §6). Each
 * client gets the events it may see, each with its `seq`. A client that sends
 * `{"resume": lastSeq}` first receives every event after lastSeq from the
 * durable log, in order, then live ones; the replay is synchronous, so no live
 * event can slip in between. Events older than the log's retention cannot be
 * replayed: the client is told `{"type":"resync"}` and reloads its lists.
 *
 * A client can only send `resume` after `hello`, one round trip after the hub
 * took its socket. Live events committed in that window are held, not sent:
 * sent at once they would arrive before the older events of the replay (and
 * again inside it), and a client that keeps the highest seq it has seen — as
 * the dashboard does — would then drop the replayed ones as already seen,
 * losing exactly the events it reconnected to get. A resume in time makes the
 * held events part of the replay; without one they are sent after the grace.
 *
 * Readings are the bulk of the stream (one event per stored reading), and a
 * console shows those of the resident on its screen only. A client may send
 * `{"watch": {"residents": [ids], "homes": [ids]}}` at any time (before its
 * `resume`, for the replay too): from then on it gets `reading` events only of
 * those residents and of readings in those homes; `{"watch": null}` restores
 * every reading it may see, the default (SPEC §6). Alerts and device status
 * are never filtered. A reading nobody watches is never serialised.
 *
 * Cost per event, which a busy hub pays for every stored reading: each event
 * is serialised once for all the clients that may see it, and the messages of
 * one commit go to a client's socket in one write (the socket is corked around
 * them) instead of one system call each.
 *
 * A socket is bound to the session that opened it, and lives no longer. When
 * the session ends the hub stops sending and closes the socket with
 * {@link SESSION_ENDED} (4401; dashboards go to the sign-in page instead of
 * reconnecting): at once on sign-out (`endSession`); on expiry, no event is
 * sent past `expiresAt` (checked before every send) and the socket is closed
 * by the next event or sweep, whichever comes first; a user disabled or
 * given another role through this hub's API, at once (`endUser`); one
 * disabled, removed or given another role elsewhere (the CLI, another
 * process, the database), by the next sweep. The sweep re-reads each
 * subscriber's session from the store every few seconds rather than keeping a
 * timer per socket: the hub's clock is injected (tests move it), and no
 * in-process hook sees another process's change. It costs one primary-key
 * lookup per open socket per sweep (a few hundred consoles: well under a
 * millisecond).
 */
import type { Logger } from 'pino';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { DirectoryStore } from '../store/directoryStore.js';
import { isCallCenter, type Session, type User } from '../store/userStore.js';
import type { EventLog, StreamEvent } from './eventLog.js';

interface Subscriber {
  socket: WebSocket;
  user: User;
  /** The session that opened the socket; it closes when that session ends. */
  token: string;
  expiresAt: number;
  /** A doctor's patients, refreshed on each use of a stale cache. */
  patients: Set<string> | null;
  /** Which residents' and homes' readings it wants; null: every reading it may see. */
  watch: Watch | null;
  /** Live events held while the client may still resume (see the top of this file); null once live. */
  held: StreamEvent[] | null;
  grace: NodeJS.Timeout | null;
}

interface Watch {
  residents: Set<string>;
  homes: Set<string>;
}

const REPLAY_PAGE = 1000;
/** Most residents, and most homes, one client may watch. */
export const MAX_WATCHED = 500;
/** A client this far behind on its socket buffer is cut off rather than let memory grow. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** How long after `hello` a client may still resume before live events flow: one round trip, generously (a console busy loading). */
export const DEFAULT_RESUME_GRACE_MS = 500;
/** How often every open socket's session is re-read from the store (see the top of this file). */
export const DEFAULT_SESSION_SWEEP_MS = 5000;
/** WebSocket close code for "your session ended": sign in again; reconnecting with the same session cannot work. */
export const SESSION_ENDED = 4401;

export interface StreamHubOptions {
  /** The current state of a session: null once it ended (signed out, expired, user disabled or removed). */
  sessions: { session(token: string): Session | null };
  now: () => number;
  resumeGraceMs?: number;
  sessionSweepMs?: number;
}

export class StreamHub {
  private readonly subscribers = new Set<Subscriber>();
  private readonly sessions: StreamHubOptions['sessions'];
  private readonly now: () => number;
  private readonly resumeGraceMs: number;
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly log: EventLog,
    private readonly directory: DirectoryStore,
    private readonly logger: Logger,
    opts: StreamHubOptions,
  ) {
    this.sessions = opts.sessions;
    this.now = opts.now;
    this.resumeGraceMs = opts.resumeGraceMs ?? DEFAULT_RESUME_GRACE_MS;
    this.sweep = setInterval(() => this.checkSessions(), opts.sessionSweepMs ?? DEFAULT_SESSION_SWEEP_MS);
    this.sweep.unref();
    log.onCommitted((events) => this.broadcast(events));
  }

  get size(): number {
    return this.subscribers.size;
  }

  /**
   * Takes the socket of the session `token` (already authenticated by the
   * route). Live after the resume grace, or once a `resume` message has replayed.
   */
  accept(socket: WebSocket, token: string): void {
    const session = this.sessions.session(token);
    if (!session) {
      // Signed out between the upgrade's authentication and now.
      socket.close(SESSION_ENDED, 'session ended');
      return;
    }
    const { user, expiresAt } = session;
    const sub: Subscriber = { socket, user, token, expiresAt, patients: null, watch: null, held: [], grace: null };
    sub.grace = setTimeout(() => this.goLive(sub), this.resumeGraceMs);
    sub.grace.unref();
    this.subscribers.add(sub);
    socket.on('close', () => this.drop(sub));
    socket.on('error', () => this.drop(sub));
    socket.on('message', (raw) => this.onMessage(sub, raw.toString()));
    this.send(sub, { type: 'hello', seq: this.log.latestSeq(), user: { username: user.username, role: user.role } });
  }

  /** Closes every socket of this session at once (sign-out); nothing more is sent on them. */
  endSession(token: string, why: string): void {
    for (const sub of this.subscribers) if (sub.token === token) this.end(sub, why);
  }

  /** Closes every socket of this user at once (an admin disabled them or changed their role). */
  endUser(username: string, why: string): void {
    for (const sub of this.subscribers) if (sub.user.username === username) this.end(sub, why);
  }

  close(): void {
    clearInterval(this.sweep);
    for (const s of this.subscribers) {
      if (s.grace) clearTimeout(s.grace);
      s.socket.close(1001, 'hub shutting down');
    }
    this.subscribers.clear();
  }

  private drop(sub: Subscriber): void {
    if (sub.grace) clearTimeout(sub.grace);
    this.subscribers.delete(sub);
  }

  /** The session is over: send nothing more, and tell the client to sign in again rather than reconnect. */
  private end(sub: Subscriber, why: string): void {
    this.drop(sub);
    sub.held = null;
    this.logger.info({ username: sub.user.username, role: sub.user.role, why }, 'stream closed: session ended');
    sub.socket.close(SESSION_ENDED, `session ended (${why})`);
  }

  /** Whether the socket may still be sent to; ends it if its session has run out. */
  private current(sub: Subscriber): boolean {
    if (!this.subscribers.has(sub)) return false;
    if (this.now() < sub.expiresAt) return true;
    this.end(sub, 'expired');
    return false;
  }

  /** The sweep: ends the sockets whose session expired, was deleted, or whose user was disabled, removed or given another role. */
  private checkSessions(): void {
    for (const sub of this.subscribers) {
      try {
        const session = this.sessions.session(sub.token);
        if (!session) this.end(sub, this.now() >= sub.expiresAt ? 'expired' : 'signed out or user disabled');
        else if (session.user.role !== sub.user.role) this.end(sub, 'role changed');
        else sub.expiresAt = session.expiresAt;
      } catch (err) {
        // The store failing now says nothing about the session: check again at the next sweep.
        this.logger.warn({ err, username: sub.user.username }, 'stream session check failed');
      }
    }
  }

  /** No resume came in time: send what was held, then everything as it commits. */
  private goLive(sub: Subscriber): void {
    if (sub.grace) clearTimeout(sub.grace);
    sub.grace = null;
    const held = sub.held ?? [];
    sub.held = null;
    if (held.length > 0 && this.current(sub)) this.sendEvents(sub, held);
  }

  private onMessage(sub: Subscriber, raw: string): void {
    if (!this.current(sub)) return;
    let msg: { resume?: unknown; watch?: unknown };
    try {
      msg = JSON.parse(raw) as { resume?: unknown; watch?: unknown };
    } catch {
      this.send(sub, { type: 'error', error: 'invalid_json', message: 'messages are JSON, e.g. {"resume": 42}' });
      return;
    }
    if (msg !== null && typeof msg === 'object' && 'watch' in msg) {
      this.setWatch(sub, msg.watch);
      return;
    }
    if (typeof msg?.resume !== 'number' || !Number.isInteger(msg.resume) || msg.resume < 0) {
      this.send(sub, { type: 'error', error: 'invalid_request', field: 'resume', message: 'resume must be the last seq received (an integer ≥ 0)' });
      return;
    }
    this.replay(sub, msg.resume);
  }

  /** `{"watch": …}`: narrows (or, with null, widens again) the readings this client gets; answers `watching`. */
  private setWatch(sub: Subscriber, watch: unknown): void {
    if (watch === null) {
      sub.watch = null;
      this.send(sub, { type: 'watching', watch: null });
      return;
    }
    const invalid = (field: string, message: string) => this.send(sub, { type: 'error', error: 'invalid_request', field, message });
    if (typeof watch !== 'object' || Array.isArray(watch)) {
      invalid('watch', 'watch is {"residents": [ids], "homes": [ids]}, or null for every reading');
      return;
    }
    const lists: Record<'residents' | 'homes', string[]> = { residents: [], homes: [] };
    for (const key of ['residents', 'homes'] as const) {
      const list = (watch as Record<string, unknown>)[key];
      if (list === undefined) continue;
      if (!Array.isArray(list) || list.some((id) => typeof id !== 'string' || id.length === 0 || id.length > 128)) {
        invalid(`watch.${key}`, `${key} must be a list of ids`);
        return;
      }
      if (list.length > MAX_WATCHED) {
        invalid(`watch.${key}`, `at most ${MAX_WATCHED} ${key}`);
        return;
      }
      lists[key] = list as string[];
    }
    const unknown = Object.keys(watch).filter((k) => k !== 'residents' && k !== 'homes');
    if (unknown.length > 0) {
      invalid(`watch.${unknown[0]}`, 'watch takes residents and homes only');
      return;
    }
    sub.watch = { residents: new Set(lists.residents), homes: new Set(lists.homes) };
    this.send(sub, { type: 'watching', watch: lists });
  }

  private replay(sub: Subscriber, after: number): void {
    // Held events are committed, so the replay below (read from the log) includes them, in order.
    if (sub.grace) clearTimeout(sub.grace);
    sub.grace = null;
    sub.held = null;
    const resync = (pruned: number) => this.send(sub, { type: 'resync', oldestSeq: pruned + 1, message: 'events before oldestSeq are no longer kept; reload lists' });
    const pruned = this.log.prunedThrough();
    if (after < pruned) resync(pruned);
    let cursor = after;
    for (;;) {
      const page = this.log.since(cursor, REPLAY_PAGE);
      this.sendEvents(sub, page);
      if (page.length < REPLAY_PAGE) break;
      cursor = page[page.length - 1]!.seq;
    }
    // The journal's retention prunes on the writer thread's own connection: a chunk committed during
    // the reads above may have taken an event this client had not seen and the replay did not send.
    const prunedSince = this.log.prunedThrough();
    if (prunedSince > pruned && after < prunedSince) resync(prunedSince);
    this.send(sub, { type: 'resumed', seq: this.log.latestSeq() });
  }

  private broadcast(events: StreamEvent[]): void {
    // Each event's JSON, built for the first client that may see it and reused for the others.
    const texts: Array<string | undefined> = new Array(events.length);
    for (const sub of this.subscribers) {
      if (!this.current(sub)) continue;
      if (sub.held) {
        sub.held.push(...events);
        continue;
      }
      if (sub.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
        this.logger.warn({ username: sub.user.username }, 'stream client too slow; closing it (it will resume)');
        sub.socket.close(1013, 'too slow; reconnect and resume');
        this.drop(sub);
        continue;
      }
      this.sendEvents(sub, events, texts);
    }
  }

  /** `texts[i]`, when given, caches the JSON of `events[i]` across clients. */
  private sendEvents(sub: Subscriber, events: StreamEvent[], texts: Array<string | undefined> = new Array(events.length)): void {
    sub.patients = null;
    if (sub.socket.readyState !== sub.socket.OPEN) return;
    // ws writes each message with its own corked write; corked here too, they leave in one.
    const raw = (sub.socket as unknown as { _socket?: Socket })._socket;
    raw?.cork();
    try {
      events.forEach((e, i) => {
        if (this.visible(sub, e)) sub.socket.send((texts[i] ??= JSON.stringify(wire(e))));
      });
    } finally {
      raw?.uncork();
    }
  }

  /**
   * The call center (operators, supervisors) sees everything; a doctor their
   * patients and what was escalated to them; an admin device status.
   * Readings, besides, only as watched.
   */
  private visible(sub: Subscriber, e: StreamEvent): boolean {
    const { watch } = sub;
    if (watch && e.type === 'reading' && !(e.residentId !== null && watch.residents.has(e.residentId)) && !(e.homeId !== null && watch.homes.has(e.homeId))) return false;
    const { role, username } = sub.user;
    if (isCallCenter(role)) return true;
    if (role === 'admin') return e.type === 'device.status';
    if (e.type === 'device.status') return false;
    // Only alerts carry an escalation; asking a reading would build its data (LazyEvent) for nothing.
    if (e.type !== 'reading' && (e.data.escalation as { to?: string } | null | undefined)?.to === username) return true;
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

/**
 * The live stream for dashboards: WebSocket `/api/v1/stream` (SPEC §6). Each
 * client gets the events it may see, each with its `seq`. A client that sends
 * `{"resume": lastSeq}` first receives every event after lastSeq from the
 * durable log, in order, then `resumed`, then live ones. Events older than the
 * log's retention cannot be replayed: the client is told `{"type":"resync"}`
 * and reloads its lists.
 *
 * A replay must not stall the hub: a console asleep for hours resumes from a
 * seq millions of readings back (readings are never pruned by default, and a
 * city's hub stores hundreds a second). So the replay reads the log a page at
 * a time, each page walking at most {@link REPLAY_WINDOW} seqs, and between
 * pages it gives the event loop back and waits while the socket holds more
 * than {@link REPLAY_BUFFER_BYTES} unsent (a client that stops reading is
 * closed with 1013 after {@link REPLAY_STALL_MS}: it resumes when it can). A
 * replay of more than {@link MAX_REPLAY_EVENTS} events is not made at all:
 * the client is told `resync` (`reason: "too_far_behind"`) and then streams
 * live, which the dashboard answers by reloading its lists (the unresolved
 * alerts over REST, read after the hub said resync, so nothing committed
 * before the live events is missed; its panels refetch on reconnecting). For
 * a client that gets every event the bound is known before reading (the seqs
 * between its last and the latest); for one whose readings are narrowed
 * (below) it is counted as the pages are sent, and the walk itself is bounded
 * by {@link MAX_REPLAY_SCAN} seqs.
 *
 * Events committed during a replay are not sent live to that client (nor
 * held): the replay reads on up to the latest published seq, and the client
 * goes live in the same turn of the event loop as the read that reached it,
 * so every event arrives once, in seq order, the replayed ones before the live.
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
 * are never filtered. A reading nobody watches is never serialised, and a
 * replay reads from SQLite only the readings the client may get (its watch, a
 * doctor's patients; an admin none).
 *
 * Cost per event, which a busy hub pays for every stored reading: each event
 * is serialised and framed once for all the clients that may see it, and the
 * messages of one commit go to a client's socket as one buffer in one write
 * (sharedFrames.ts), instead of ws framing the same text again for each
 * socket and writing each message on its own. A replayed event is sent as the
 * JSON the log holds, never parsed for that.
 *
 * One commit may hold hundreds of thousands of events (gateways flushing their
 * backlogs, 500 readings a publish): they are never spread into a call's
 * arguments (V8 throws past ~125k), and a client whose push fails is closed
 * with 1013 (it resumes) without the others missing anything.
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
import type { HubMetrics } from '../metrics.js';
import type { DirectoryStore } from '../store/directoryStore.js';
import { isCallCenter, type Session, type User } from '../store/userStore.js';
import type { EventLog, ReadingScope, StreamEvent } from './eventLog.js';
import { SharedFrames } from './sharedFrames.js';

interface Subscriber {
  socket: WebSocket;
  user: User;
  /** The session that opened the socket; it closes when that session ends. */
  token: string;
  expiresAt: number;
  /** Which residents' and homes' readings it wants; null: every reading it may see. */
  watch: Watch | null;
  /** Live events held while the client may still resume (see the top of this file), one array per commit as committed (never copied); null once not. */
  held: StreamEvent[][] | null;
  grace: NodeJS.Timeout | null;
  /** The replay running for it (live events are not sent meanwhile: it reads them from the log); null when none. */
  replay: object | null;
  /** Its unsent bytes at the last sweep, when over MAX_BUFFERED_BYTES (see checkBuffers). */
  bufferedAtSweep: number | null;
}

interface Watch {
  residents: Set<string>;
  homes: Set<string>;
}

/** Events read from the log, and sent, per page of a replay. */
const REPLAY_PAGE = 1000;
/**
 * Most seqs one page of a replay walks, found or not: a client narrowed to one
 * resident makes SQLite skip the others' readings, well under a microsecond
 * each, so one page costs a few milliseconds of the event loop (3 ms measured).
 */
export const REPLAY_WINDOW = 20_000;
/**
 * A resume that would replay more events than this is answered `resync`. 50,000
 * reading events are 12 MB of JSON and a second or two of a browser's time; at
 * 200 readings a second they are four minutes of a city's stream, so a network
 * drop or a hub restart is replayed exactly, and a console asleep for longer
 * reloads its lists (one REST call), which costs the hub and the browser less
 * and loses no alert.
 */
export const MAX_REPLAY_EVENTS = 50_000;
/** Most seqs a narrowed replay walks (measured: 1M seqs of readings, 0.12-0.17 s of SQLite's time, in pages of 3 ms): further back, `resync`. */
export const MAX_REPLAY_SCAN = 2_000_000;
/** A replay sends its next page only once its socket holds less than this unsent. */
export const REPLAY_BUFFER_BYTES = 1024 * 1024;
/** A client whose socket stays above {@link REPLAY_BUFFER_BYTES} this long during its replay is closed with 1013. */
export const REPLAY_STALL_MS = 10_000;
const REPLAY_POLL_MS = 20;
/** Most residents, and most homes, one client may watch. */
export const MAX_WATCHED = 500;
/** A client this far behind on its socket buffer is cut off rather than let memory grow (at each commit and each sweep). */
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
  metrics?: Pick<HubMetrics, 'streamClientsClosed' | 'streamResyncs' | 'streamReplayEvents'>;
}

export class StreamHub {
  private readonly subscribers = new Set<Subscriber>();
  private readonly sessions: StreamHubOptions['sessions'];
  private readonly now: () => number;
  private readonly resumeGraceMs: number;
  private readonly sweep: NodeJS.Timeout;
  private readonly metrics: StreamHubOptions['metrics'];

  constructor(
    private readonly log: EventLog,
    private readonly directory: DirectoryStore,
    private readonly logger: Logger,
    opts: StreamHubOptions,
  ) {
    this.sessions = opts.sessions;
    this.now = opts.now;
    this.resumeGraceMs = opts.resumeGraceMs ?? DEFAULT_RESUME_GRACE_MS;
    this.metrics = opts.metrics;
    this.sweep = setInterval(() => {
      this.checkSessions();
      this.checkBuffers();
    }, opts.sessionSweepMs ?? DEFAULT_SESSION_SWEEP_MS);
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
    const sub: Subscriber = { socket, user, token, expiresAt, watch: null, held: [], grace: null, replay: null, bufferedAtSweep: null };
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
      s.replay = null;
      s.socket.close(1001, 'hub shutting down');
    }
    this.subscribers.clear();
  }

  private drop(sub: Subscriber): void {
    if (sub.grace) clearTimeout(sub.grace);
    sub.replay = null;
    this.subscribers.delete(sub);
  }

  /** Closes a socket the hub cannot serve now; the client reconnects and resumes (any code but SESSION_ENDED). */
  private shut(sub: Subscriber, code: number, why: string, reason: string): void {
    this.drop(sub);
    sub.held = null;
    this.metrics?.streamClientsClosed.inc({ reason });
    try {
      sub.socket.close(code, why);
    } catch {
      sub.socket.terminate();
    }
  }

  private tooSlow(sub: Subscriber): void {
    this.logger.warn({ username: sub.user.username, buffered: sub.socket.bufferedAmount }, 'stream client too slow; closing it (it will resume)');
    this.shut(sub, 1013, 'too slow; reconnect and resume', 'slow');
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

  /**
   * The sweep's other half: a live client that stopped reading after a big commit is otherwise checked
   * only at the next commit, and a quiet hub may have none for a while. One still reading a big commit
   * (200,000 events are 50 MB) is left to it: closed only when over the cap at two sweeps in a row
   * without having taken anything in between. Its buffer is released when it closes.
   */
  private checkBuffers(): void {
    for (const sub of this.subscribers) {
      const buffered = sub.replay ? 0 : sub.socket.bufferedAmount;
      if (buffered > MAX_BUFFERED_BYTES && sub.bufferedAtSweep !== null && buffered >= sub.bufferedAtSweep) this.tooSlow(sub);
      else sub.bufferedAtSweep = buffered > MAX_BUFFERED_BYTES ? buffered : null;
    }
  }

  /** No resume came in time: send what was held, then everything as it commits. */
  private goLive(sub: Subscriber): void {
    if (sub.grace) clearTimeout(sub.grace);
    sub.grace = null;
    const held = sub.held ?? [];
    sub.held = null;
    if (held.length === 0 || !this.current(sub)) return;
    try {
      for (const events of held) this.sendEvents(sub, new SharedFrames(events));
    } catch (err) {
      this.pushFailed(sub, err, held.reduce((n, events) => n + events.length, 0));
    }
  }

  private pushFailed(sub: Subscriber, err: unknown, events: number): void {
    this.logger.error({ err, username: sub.user.username, events }, 'stream push to a client failed; closing it (it will resume)');
    this.shut(sub, 1013, 'stream error; reconnect and resume', 'send_failed');
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
    // A newer resume, the socket's end or the session's abandons this one (see `replaying`).
    const run = {};
    sub.replay = run;
    this.replayPages(sub, run, after).catch((err: unknown) => {
      if (sub.replay !== run) return;
      this.logger.error({ err, username: sub.user.username, after }, 'stream replay failed; closing the socket (it will resume)');
      this.shut(sub, 1011, 'replay failed; reconnect and resume', 'replay_failed');
    });
  }

  /** Pages of the log after `after`, then live (see the top of this file). The first page is sent before the first await. */
  private async replayPages(sub: Subscriber, run: object, after: number): Promise<void> {
    let pruned = this.log.prunedThrough();
    // Said with the first page: a client too far behind is told resync once, not twice.
    let prunedBefore = after < pruned;
    let cursor = after;
    let sent = 0;
    for (;;) {
      if (!this.replaying(sub, run)) return;
      const latest = this.log.latestSeq();
      const scope = this.readingScope(sub);
      const tooFar = sent > MAX_REPLAY_EVENTS
        || (scope === 'all' ? sent + (latest - cursor) > MAX_REPLAY_EVENTS : latest - after > MAX_REPLAY_SCAN);
      if (tooFar) {
        this.logger.info({ username: sub.user.username, after, latest, sent }, 'stream client too far behind to replay; told to resync');
        this.resync(sub, latest, 'too_far_behind');
        this.replayed(sub);
        return;
      }
      if (prunedBefore) {
        this.resync(sub, pruned, 'pruned');
        prunedBefore = false;
      }
      const upTo = Math.min(latest, cursor + REPLAY_WINDOW);
      const page = this.log.since(cursor, REPLAY_PAGE, { upTo, readings: scope });
      this.metrics?.streamReplayEvents.inc(page.length);
      sent += this.sendEvents(sub, new SharedFrames(page));
      // The journal's retention prunes on the writer thread's own connection: a chunk committed before
      // this read may have taken an event this client had not seen and the replay did not send.
      const prunedNow = this.log.prunedThrough();
      if (prunedNow > pruned) {
        if (prunedNow > cursor) this.resync(sub, prunedNow, 'pruned');
        pruned = prunedNow;
      }
      // A full page may stop short of upTo; a shorter one read everything up to it.
      cursor = page.length === REPLAY_PAGE ? page[page.length - 1]!.seq : upTo;
      // No await since the read: nothing was published in between, so the next event is a live one.
      if (cursor >= this.log.latestSeq()) {
        this.replayed(sub);
        return;
      }
      await new Promise((resolve) => setImmediate(resolve));
      if (!(await this.drained(sub, run))) return;
    }
  }

  private replaying(sub: Subscriber, run: object): boolean {
    return sub.replay === run && this.current(sub) && sub.socket.readyState === sub.socket.OPEN;
  }

  /** The replay is over: live from here. */
  private replayed(sub: Subscriber): void {
    sub.replay = null;
    this.send(sub, { type: 'resumed', seq: this.log.latestSeq() });
  }

  private resync(sub: Subscriber, through: number, reason: 'pruned' | 'too_far_behind'): void {
    this.metrics?.streamResyncs.inc({ reason });
    this.send(sub, {
      type: 'resync', reason, oldestSeq: through + 1,
      message: reason === 'pruned' ? 'events before oldestSeq are no longer kept; reload lists' : 'too many events missed to replay; reload lists (events from oldestSeq follow)',
    });
  }

  /** Waits while the socket holds more than REPLAY_BUFFER_BYTES unsent; false if the replay is over (closed: stalled, or abandoned). */
  private async drained(sub: Subscriber, run: object): Promise<boolean> {
    // Real time, not the hub's clock (tests move that one).
    const start = performance.now();
    while (sub.socket.bufferedAmount > REPLAY_BUFFER_BYTES) {
      if (!this.replaying(sub, run)) return false;
      if (performance.now() - start > REPLAY_STALL_MS) {
        this.logger.warn({ username: sub.user.username, buffered: sub.socket.bufferedAmount }, 'stream client stopped reading during its replay; closing it (it will resume)');
        this.shut(sub, 1013, 'too slow; reconnect and resume', 'replay_stalled');
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, REPLAY_POLL_MS));
    }
    return this.replaying(sub, run);
  }

  /** Which readings a replay reads for this client: what `visible` could let through, no more. */
  private readingScope(sub: Subscriber): ReadingScope {
    const { role, username } = sub.user;
    const { watch } = sub;
    if (role === 'admin') return 'none';
    if (isCallCenter(role)) return watch ? { residents: [...watch.residents], homes: [...watch.homes] } : 'all';
    const patients = [...this.directory.patientsOf(username)];
    return watch ? { residents: patients.filter((id) => watch.residents.has(id)), homes: [...watch.homes] } : { residents: patients, homes: [] };
  }

  private broadcast(events: StreamEvent[]): void {
    // Each event's message and frame, built for the first client that may see it and reused for the others.
    const frames = new SharedFrames(events);
    for (const sub of this.subscribers) {
      // One client's failure (a socket that throws) must not cost the others this commit.
      try {
        if (!this.current(sub)) continue;
        if (sub.held) {
          sub.held.push(events);
          continue;
        }
        if (sub.replay) continue;
        if (sub.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          this.tooSlow(sub);
          continue;
        }
        this.sendEvents(sub, frames);
      } catch (err) {
        this.pushFailed(sub, err, events.length);
      }
    }
  }

  /** Sends those of the batch's events this client may see, in one write; answers how many. */
  private sendEvents(sub: Subscriber, frames: SharedFrames): number {
    if (sub.socket.readyState !== sub.socket.OPEN) return 0;
    const { events } = frames;
    const mine: number[] = [];
    for (let i = 0; i < events.length; i++) if (this.visible(sub, events[i]!)) mine.push(i);
    if (mine.length === 0) return 0;
    const raw = rawSocket(sub.socket);
    if (raw) {
      // Straight to the TCP socket, past ws: its sender has nothing queued (it queues only while
      // compressing), so this keeps the order of the hub's other messages, and `bufferedAmount` counts it.
      raw.write(frames.framesOf(mine));
      return mine.length;
    }
    // A compressing socket: ws frames (and deflates) each message itself; corked, they leave in one write.
    const tcp = (sub.socket as unknown as { _socket?: Socket })._socket;
    tcp?.cork();
    try {
      for (const i of mine) sub.socket.send(frames.text(i));
    } finally {
      tcp?.uncork();
    }
    return mine.length;
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
    // A patient moved to another doctor: the new one sees it as their patient's (below), the one they
    // left too, so that both pages change their lists at once, not at the next reload.
    if (e.type === 'resident.doctor_changed' && e.data.from === username) return true;
    // Only alerts carry an escalation; asking a reading would build its data (LazyEvent) for nothing.
    if (e.type !== 'reading' && (e.data.escalation as { to?: string } | null | undefined)?.to === username) return true;
    if (!e.residentId) return false;
    return this.directory.patientsOf(username).has(e.residentId);
  }

  private send(sub: Subscriber, msg: object): void {
    if (sub.socket.readyState === sub.socket.OPEN) sub.socket.send(JSON.stringify(msg));
  }
}

/**
 * The TCP socket under `socket`, if shared frames may be written to it: not
 * when permessage-deflate was negotiated (each message is then compressed
 * with this socket's own context, which only ws can do), nor once it cannot
 * be written (ws then drops the message, as it does after a close).
 */
function rawSocket(socket: WebSocket): Socket | null {
  if (socket.extensions !== '') return null;
  const raw = (socket as unknown as { _socket?: Socket })._socket;
  return raw?.writable ? raw : null;
}

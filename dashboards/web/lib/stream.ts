/**
 * The live stream (`/api/v1/stream`, SPEC §6; server/realtime/streamHub.ts).
 *
 * The first connection takes the hub's `hello.seq` as its starting point (the
 * page loads its lists over REST right after). Every connection answers
 * `hello` with `{"resume": lastSeq}`; the hub replays what was missed, in
 * order, then says `resumed` and streams live; if the gap is older than the
 * hub keeps, it says `resync` and the page reloads its lists. So a dropped
 * socket loses nothing.
 *
 * A page that shows one resident's vitals asks for that resident's readings
 * only (`watch`): the hub then sends no other reading events. The watch is
 * sent again before each resume, so the replay honours it too.
 *
 * Reconnects back off 0.5 s → 8 s; `reconnecting` turns into `offline` when the
 * browser reports no network or after several failed attempts in a row. A
 * close with {@link SESSION_ENDED} (signed out elsewhere, expired, account
 * disabled or its role changed) is not reconnected: the page signs in again.
 */
import type { ReadingWatch, StreamEvent, StreamMessage } from './types';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface StreamHandlers {
  /** Each event, in seq order, exactly once. */
  event(e: StreamEvent): void;
  /** The first `hello` of this page (load the lists now), or a `resync` (reload them). */
  reload(): void;
  state(s: ConnectionState): void;
  /** After a resume: how many events were replayed. */
  resumed?(replayed: number): void;
  /** The socket keeps failing: maybe the session ended. */
  failing?(): void;
  /** The hub closed the stream because the session ended; the client has stopped. */
  sessionEnded?(): void;
}

/** The hub's close code for "the session ended" (server/realtime/streamHub.ts). */
export const SESSION_ENDED = 4401;

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const OFFLINE_AFTER_FAILURES = 3;

export class StreamClient {
  private socket: WebSocket | null = null;
  private lastSeq: number | null = null;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private replaying = false;
  private replayed = 0;
  private current: ConnectionState = 'connecting';
  /** undefined: never asked (every reading); null: every reading again. */
  private watching: ReadingWatch | null | undefined;
  private greeted = false;

  constructor(private readonly url: string, private readonly handlers: StreamHandlers) {
    addEventListener('online', this.onOnline);
    addEventListener('offline', this.onOffline);
  }

  get seq(): number | null {
    return this.lastSeq;
  }

  get connection(): ConnectionState {
    return this.current;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    removeEventListener('online', this.onOnline);
    removeEventListener('offline', this.onOffline);
    this.socket?.close(1000, 'page closed');
    this.socket = null;
  }

  /** Asks for the readings of these residents and homes only (null: every reading); kept across reconnects. */
  watch(w: ReadingWatch | null): void {
    if (JSON.stringify(w) === JSON.stringify(this.watching)) return;
    this.watching = w;
    if (this.greeted) this.socket?.send(JSON.stringify({ watch: w }));
  }

  /** Closes the socket as a network drop would (the client reconnects and resumes). */
  drop(): void {
    this.socket?.close(4000, 'dropped');
  }

  private setState(s: ConnectionState): void {
    if (s === this.current) return;
    this.current = s;
    this.handlers.state(s);
  }

  private open(): void {
    if (this.stopped) return;
    this.timer = null;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    this.greeted = false;
    socket.onmessage = (m) => this.onMessage(m.data as string);
    socket.onclose = (e) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (e.code === SESSION_ENDED) {
        // Reconnecting with this session cannot work; nor must the page show it as merely offline.
        this.stop();
        this.handlers.sessionEnded?.();
        return;
      }
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.timer) return;
    this.failures += 1;
    this.setState(!navigator.onLine || this.failures > OFFLINE_AFTER_FAILURES ? 'offline' : 'reconnecting');
    if (this.failures > OFFLINE_AFTER_FAILURES) this.handlers.failing?.();
    const delay = BACKOFF_MS[Math.min(this.failures - 1, BACKOFF_MS.length - 1)]!;
    this.timer = setTimeout(() => this.open(), delay);
  }

  private onMessage(raw: string): void {
    let msg: StreamMessage;
    try {
      msg = JSON.parse(raw) as StreamMessage;
    } catch {
      return;
    }
    if ('seq' in msg && 'at' in msg) {
      // A replay may overlap what this page already has; seq makes it exact.
      if (this.lastSeq !== null && msg.seq <= this.lastSeq) return;
      this.lastSeq = msg.seq;
      if (this.replaying) this.replayed += 1;
      this.handlers.event(msg);
      return;
    }
    switch (msg.type) {
      case 'hello': {
        this.failures = 0;
        // Always resume: from where this page was, or (first connection) from the hub's seq at
        // hello, so the hub streams at once instead of holding live events for a late resume.
        const first = this.lastSeq === null;
        if (first) this.lastSeq = msg.seq;
        this.replaying = true;
        this.replayed = 0;
        this.greeted = true;
        if (this.watching !== undefined) this.socket?.send(JSON.stringify({ watch: this.watching }));
        this.socket?.send(JSON.stringify({ resume: this.lastSeq }));
        if (first) this.handlers.reload();
        break;
      }
      case 'resumed':
        this.replaying = false;
        this.setState('connected');
        this.handlers.resumed?.(this.replayed);
        break;
      case 'resync': {
        // Too far behind to replay: the lists are reloaded, and live events follow from oldestSeq. A
        // reconnect before the next event must resume from there, not be told resync again.
        const r = msg as { reason?: string; oldestSeq?: number };
        if (r.reason === 'too_far_behind' && typeof r.oldestSeq === 'number') this.lastSeq = Math.max(this.lastSeq ?? 0, r.oldestSeq - 1);
        this.handlers.reload();
        break;
      }
      default:
        break;
    }
  }

  private readonly onOnline = () => {
    if (this.socket || this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.failures = 0;
    this.setState('reconnecting');
    this.open();
  };

  private readonly onOffline = () => {
    if (this.current !== 'connected') this.setState('offline');
  };
}

/** `ws://host/api/v1/stream` (or `wss://` behind TLS); the session cookie signs it in. */
export function streamUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/stream`;
}

/**
 * Unresolved alerts kept live: a REST snapshot when the stream says hello (and
 * on `resync`), then every `alert.*` event applied in seq order. Both sources
 * carry whole alerts, so merging keeps the newer `updatedAt` of each. Other
 * event types go to `onEvent` (charts, device status). The connection state
 * and the last seq are mirrored on `<body data-conn data-last-seq>` for the
 * browser tests and for support ("what did this screen see?").
 *
 * The alerts live in one QueueIndex, changed in place (an event in a flood of
 * 10,000 alerts must not copy them all); `version` says when it changed.
 *
 * The snapshot holds at most SNAPSHOT_LIMIT alerts, the most urgent (the hub
 * cuts the least severe, and within a severity the newest: the longest waiting,
 * which the queue puts first, are always held). When more are unresolved, `coverage` says how many
 * the console does not hold, so the page can say so: the hub's `total` minus
 * what the snapshot brought, less each of those alerts that an event then
 * brings in (an `alert.updated` of an alert not held was one of them; a new
 * alert arrives as `alert.created` and is held from then on). The hub's count
 * is asked again every minute meanwhile, and when the console's share has
 * shrunk to half the limit (resolved, claimed away) the snapshot is taken
 * again, so the next most urgent come in.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, sessionEnded } from './api';
import { QueueIndex } from './queue';
import { StreamClient, streamUrl, type ConnectionState } from './stream';
import type { Alert, ReadingWatch, StreamEvent } from './types';

/** The most the alerts API answers at once. */
export const SNAPSHOT_LIMIT = 2000;
const RECOUNT_MS = 60_000;
const RELOAD_AFTER_MS = 10_000;

/** How much of the hub's unresolved alerts this console holds. */
export interface Coverage {
  /** Unresolved alerts held (counted, kept live). */
  held: number;
  /** Unresolved alerts the hub has (that this user may see): `held` plus those not loaded. */
  total: number;
  /** Some are not held: the snapshot was cut at its limit. */
  truncated: boolean;
}

export interface LiveAlerts {
  /** Every alert held, by id (resolved ones too, once an event said so). Changed in place: depend on `version`. */
  alerts: Map<string, Alert>;
  /** The same alerts in queue order, with running counts (QueueIndex). */
  queue: QueueIndex;
  coverage: Coverage;
  connection: ConnectionState;
  /** Bumped on every applied alert change: the dependency for effects and memos. */
  version: number;
  /** Applies an action's answer at once (the stream event follows). */
  put(a: Alert): void;
  /** Narrows the stream's reading events to these residents and homes (null: all); see StreamClient.watch. */
  watch(w: ReadingWatch | null): void;
  /**
   * Takes the snapshot again: for what left this page's sight with no event to say so (a doctor's
   * patient moved to another doctor: the hand-over's alert events go to the new doctor only).
   */
  reload(): void;
}

export function useLiveAlerts(opts: {
  /** Which alerts to load in the snapshot; default the unresolved ones. */
  states?: string;
  /** False for a role that reads no alerts (admin: device status only). */
  alerts?: boolean;
  enabled?: boolean;
  onEvent?: (e: StreamEvent) => void;
  onAlertEvent?: (a: Alert, created: boolean) => void;
}): LiveAlerts {
  const queue = useRef<QueueIndex | null>(null);
  queue.current ??= new QueueIndex();
  const index = queue.current;
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const [version, setVersion] = useState(0);
  const handlers = useRef(opts);
  handlers.current = opts;

  /** Ids touched by events since the last snapshot was requested: a snapshot must not drop them. */
  const touched = useRef(new Set<string>());
  /** Of those, the ones an `alert.created` brought: they were not in the hub's count of the snapshot. */
  const created = useRef(new Set<string>());
  /** Unresolved alerts the hub has and this console does not hold (see the file's comment). */
  const notHeld = useRef(0);
  const client = useRef<StreamClient | null>(null);
  /** The last watch asked for, given to a client (re)created by the effect below. */
  const watching = useRef<ReadingWatch | null | undefined>(undefined);
  /** Takes the snapshot again (set by the effect while the stream runs). */
  const reload = useRef<(() => void) | null>(null);
  const lastReload = useRef(0);

  // One render per burst: a flood arrives as thousands of messages, each its own task, and a render
  // per message is most of the cost. The bump runs as a posted task, after the stream messages already
  // waiting (Chrome runs tasks of equal priority in the order queued; 5,000 alerts arriving cost the
  // console's main thread 1.0 s this way, 2.6 s with a render each), so a lone event still renders at
  // once, one task later.
  const bumping = useRef<{ pending: boolean; channel: MessageChannel } | null>(null);
  if (!bumping.current) {
    const b = { pending: false, channel: new MessageChannel() };
    b.channel.port1.onmessage = () => {
      b.pending = false;
      setVersion((v) => v + 1);
    };
    bumping.current = b;
  }
  const bump = () => {
    const b = bumping.current!;
    if (b.pending) return;
    b.pending = true;
    b.channel.port2.postMessage(null);
  };
  useEffect(() => () => bumping.current?.channel.port1.close(), []);

  /** Applies one alert from an event or an action's answer. */
  const merge = (a: Alert, e?: StreamEvent) => {
    touched.current.add(a.id);
    if (e?.type === 'alert.created') created.current.add(a.id);
    // An update of an alert not held: one of those the snapshot did not bring (unless it was resolved
    // long before and only commented on now), held from now on.
    if (e?.type === 'alert.updated' && notHeld.current > 0 && !index.alerts.has(a.id)
      && (a.state !== 'resolved' || !a.resolvedAt || Date.parse(a.resolvedAt) >= Date.parse(e.at) - 60_000)) notHeld.current -= 1;
    if (index.apply(a)) bump();
    // The console's share has shrunk (handled, resolved): load the next most urgent.
    if (notHeld.current > 0 && index.size < SNAPSHOT_LIMIT / 2 && Date.now() - lastReload.current > RELOAD_AFTER_MS) reload.current?.();
  };

  useEffect(() => {
    if (opts.enabled === false) return;
    const states = opts.states ?? 'open,acknowledged,escalated';
    const unresolvedOnly = !states.split(',').includes('resolved');
    let stopped = false;
    const snapshot = () => {
      touched.current.clear();
      created.current.clear();
      lastReload.current = Date.now();
      // The snapshot must arrive: retry until it does (the stream keeps the page current meanwhile).
      const load = (attempt: number) => {
        api.alertsPage({ state: states, limit: SNAPSHOT_LIMIT }).then((page) => {
          const keep = new Set(touched.current);
          index.replace(page.alerts, keep);
          // Held through events during the request, not in the snapshot, and already counted by the hub.
          const listed = new Set(page.alerts.map((a) => a.id));
          let alsoHeld = 0;
          for (const id of keep) if (!listed.has(id) && !created.current.has(id) && index.alerts.get(id)?.state !== 'resolved') alsoHeld += 1;
          notHeld.current = page.truncated && unresolvedOnly ? Math.max(0, page.total - page.alerts.length - alsoHeld) : 0;
          bump();
        }, () => {
          if (!stopped) setTimeout(() => load(attempt + 1), Math.min(10_000, 1000 * 2 ** attempt));
        });
      };
      load(0);
    };
    reload.current = () => {
      if (handlers.current.alerts !== false) snapshot();
    };
    // While some are not held, the hub's count again now and then (a race of events and snapshot may be off by one).
    const recount = setInterval(() => {
      if (notHeld.current === 0) return;
      api.alertsPage({ state: states, limit: 1 }).then((page) => {
        const next = Math.max(0, page.total - index.size);
        if (next !== notHeld.current) {
          notHeld.current = next;
          bump();
        }
      }, () => {});
    }, RECOUNT_MS);
    const stream = new StreamClient(streamUrl(), {
      reload: () => {
        touched.current.clear();
        if (handlers.current.alerts === false) return;
        snapshot();
      },
      event: (e) => {
        document.body.dataset.lastSeq = String(e.seq);
        if (e.type === 'alert.created' || e.type === 'alert.updated') {
          merge(e.data, e);
          handlers.current.onAlertEvent?.(e.data, e.type === 'alert.created');
        }
        handlers.current.onEvent?.(e);
      },
      state: (s) => {
        document.body.dataset.conn = s;
        setConnection(s);
      },
      resumed: (n) => {
        document.body.dataset.replayed = String(Number(document.body.dataset.replayed ?? 0) + n);
      },
      failing: () => {
        // The socket may fail because the session ended: a 401 here sends the app to sign-in.
        api.me().catch(() => {});
      },
      sessionEnded: () => {
        if (!stopped) void sessionEnded();
      },
    });
    document.body.dataset.conn = 'connecting';
    if (watching.current !== undefined) stream.watch(watching.current);
    client.current = stream;
    stream.start();
    return () => {
      stopped = true;
      reload.current = null;
      clearInterval(recount);
      client.current = null;
      stream.stop();
    };
  }, [opts.enabled, opts.states]);

  const watch = (w: ReadingWatch | null) => {
    watching.current = w;
    client.current?.watch(w);
  };
  const coverage: Coverage = { held: index.size, total: index.size + notHeld.current, truncated: notHeld.current > 0 };
  return { alerts: index.alerts, queue: index, coverage, connection, version, put: (a) => merge(a), watch, reload: () => reload.current?.() };
}

/**
 * Unresolved alerts kept live: a REST snapshot when the stream says hello (and
 * on `resync`), then every `alert.*` event applied in seq order. Both sources
 * carry whole alerts, so merging keeps the newer `updatedAt` of each. Other
 * event types go to `onEvent` (charts, device status). The connection state
 * and the last seq are mirrored on `<body data-conn data-last-seq>` for the
 * browser tests and for support ("what did this screen see?").
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, sessionEnded } from './api';
import { newer } from './queue';
import { StreamClient, streamUrl, type ConnectionState } from './stream';
import type { Alert, ReadingWatch, StreamEvent } from './types';

export interface LiveAlerts {
  alerts: Map<string, Alert>;
  connection: ConnectionState;
  /** Bumped on every applied alert event: cheap dependency for effects. */
  version: number;
  /** Applies an action's answer at once (the stream event follows). */
  put(a: Alert): void;
  /** Narrows the stream's reading events to these residents and homes (null: all); see StreamClient.watch. */
  watch(w: ReadingWatch | null): void;
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
  const [alerts, setAlerts] = useState<Map<string, Alert>>(new Map());
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const [version, setVersion] = useState(0);
  const handlers = useRef(opts);
  handlers.current = opts;

  /** Ids touched by events since the last snapshot was requested: a snapshot must not drop them. */
  const touched = useRef(new Set<string>());
  const client = useRef<StreamClient | null>(null);
  /** The last watch asked for, given to a client (re)created by the effect below. */
  const watching = useRef<ReadingWatch | null | undefined>(undefined);

  const merge = (list: Alert[], snapshot: boolean) => {
    if (!snapshot) for (const a of list) touched.current.add(a.id);
    const keep = snapshot ? new Set(touched.current) : null;
    setAlerts((prev) => {
      const next = keep ? new Map([...prev].filter(([id]) => keep.has(id))) : new Map(prev);
      for (const a of list) next.set(a.id, newer(prev.get(a.id), a));
      return next;
    });
    setVersion((v) => v + 1);
  };

  useEffect(() => {
    if (opts.enabled === false) return;
    const states = opts.states ?? 'open,acknowledged,escalated';
    let stopped = false;
    const stream = new StreamClient(streamUrl(), {
      reload: () => {
        touched.current.clear();
        if (handlers.current.alerts === false) return;
        // The snapshot must arrive: retry until it does (the stream keeps the page current meanwhile).
        const load = (attempt: number) => {
          api.alerts({ state: states, limit: 2000 }).then((list) => merge(list, true), () => {
            if (!stopped) setTimeout(() => load(attempt + 1), Math.min(10_000, 1000 * 2 ** attempt));
          });
        };
        load(0);
      },
      event: (e) => {
        document.body.dataset.lastSeq = String(e.seq);
        if (e.type === 'alert.created' || e.type === 'alert.updated') {
          merge([e.data], false);
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
      client.current = null;
      stream.stop();
    };
  }, [opts.enabled, opts.states]);

  const watch = (w: ReadingWatch | null) => {
    watching.current = w;
    client.current?.watch(w);
  };
  return { alerts, connection, version, put: (a) => merge([a], false), watch };
}

/** Small hooks shared by the pages. */
import { useEffect, useRef, useState } from 'preact/hooks';

/** The current time, re-rendering every `everyMs` (elapsed times, claim countdowns). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(id);
  }, [everyMs]);
  return now;
}

export type Keymap = Record<string, (e: KeyboardEvent) => void>;

/**
 * Page-wide single-key shortcuts. Keys are `KeyboardEvent.key` values, lower
 * case for letters (`a`, `ArrowDown`, `?`). Ignored while typing in a field,
 * while a dialog is open (it has its own keys), and with Ctrl/Alt/Meta held,
 * so browser shortcuts keep working.
 */
export function useHotkeys(map: Keymap): void {
  const ref = useRef(map);
  ref.current = map;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.altKey || e.metaKey || e.isComposing) return;
      const target = e.target as HTMLElement | null;
      if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) return;
      if (document.querySelector('dialog[open]')) return;
      const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
      const fn = ref.current[key];
      if (fn) {
        e.preventDefault();
        fn(e);
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
}

/** Loads `fn()` whenever `deps` change; keeps the previous value while reloading. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): { value: T | null; error: Error | null; loading: boolean; reload: () => void } {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(true);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    fn().then(
      (v) => { if (live) { setValue(v); setError(null); setLoading(false); } },
      (e: Error) => { if (live) { setError(e); setLoading(false); } },
    );
    return () => { live = false; };
  }, [...deps, n]);
  return { value, error, loading, reload: () => setN((x) => x + 1) };
}

/** Calls `fn` at most once per `ms`, trailing (bursts of stream events → one refetch). */
export function useDebounced(fn: () => void, ms: number): () => void {
  const ref = useRef(fn);
  ref.current = fn;
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => { if (timer.current) clearTimeout(timer.current); }, []);
  return () => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      ref.current();
    }, ms);
  };
}

/**
 * Counts the live stream's returns: bumped each time the connection is back
 * (`connected` after `reconnecting` or `offline`), not on the first connect.
 * A dependency for loaders, so what failed while the hub was unreachable is
 * fetched again on its own once it is reachable.
 */
export function useReconnects(connection: string): number {
  const [count, setCount] = useState(0);
  const lost = useRef(false);
  useEffect(() => {
    if (connection === 'reconnecting' || connection === 'offline') lost.current = true;
    else if (connection === 'connected' && lost.current) {
      lost.current = false;
      setCount((n) => n + 1);
    }
  }, [connection]);
  return count;
}

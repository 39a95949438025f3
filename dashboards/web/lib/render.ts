/**
 * Keeping long live lists cheap to redraw (the operator's queue in an alarm
 * flood): `memo` skips a row whose props did not change, and the console's
 * clock is a context, so its per-second tick redraws only the few small parts
 * that show a time (`useClock`), not every row that contains one.
 */
import { Component, createContext, h, type ComponentChildren, type ComponentType, type FunctionComponent } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';

function shallowEqual<P extends object>(a: P, b: P): boolean {
  for (const k in a) if (a[k] !== b[k]) return false;
  for (const k in b) if (!(k in a)) return false;
  return true;
}

/** `render`, redrawn only when a prop changed (`equal` false); a context it reads still redraws it. */
export function memo<P extends object>(render: FunctionComponent<P>, equal: (a: P, b: P) => boolean = shallowEqual): ComponentType<P> {
  return class Memo extends Component<P> {
    static override displayName = `memo(${render.name})`;

    override shouldComponentUpdate(next: P): boolean {
      return !equal(this.props, next);
    }

    override render(): ComponentChildren {
      return h(render, this.props);
    }
  };
}

/** The page's clock in ms, ticking once a second (hooks.ts useNow at the page, given down by this). */
export const NowContext = createContext<number>(Date.now());

/** The page's clock: a component that reads it is redrawn every tick. */
export function useClock(): number {
  return useContext(NowContext);
}

/** Whether the time `at` (ms) has passed: redraws once, when it does, not every second before. */
export function usePassed(at: number | null): boolean {
  const passed = at !== null && Date.now() >= at;
  const [, redraw] = useState(0);
  useEffect(() => {
    if (at === null || passed) return;
    const id = setTimeout(() => redraw((n) => n + 1), at - Date.now() + 1);
    return () => clearTimeout(id);
  }, [at, passed]);
  return passed;
}

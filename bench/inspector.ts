/**
 * The benches' window into a Node process through the DevTools protocol: the
 * hub's (started with `--inspect`, reached over its WebSocket) for heap
 * snapshots and forced collections (connections.ts) and CPU profiles
 * (capacity.ts), and a process's own (`node:inspector`) for the console
 * clients' CPU profile (consoleClients.ts). One session type for both: calls
 * matched to their replies by id, events to their listeners.
 *
 * A CPU profile is summarised by function, each at the source line where it
 * starts (through tsx's inline source maps), to tell where the cost goes. Not
 * by line within a function: tsx's output puts many source lines on one, and
 * V8's line ticks have no column.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A DevTools protocol session: `call` a method and await its result; `on` an event. */
export interface ProtocolSession {
  call(method: string, params?: object): Promise<unknown>;
  on(event: string, listener: (params: unknown) => void): void;
  close(): void;
}

/** Another process's inspector (`--inspect=host:port`), over its WebSocket. */
export class InspectorSession implements ProtocolSession {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Map<string, Array<(params: unknown) => void>>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (raw: Buffer) => {
      const m = JSON.parse(raw.toString()) as { id?: number; method?: string; params?: unknown; result?: unknown; error?: { message: string } };
      if (m.method) for (const l of this.listeners.get(m.method) ?? []) l(m.params);
      const w = m.id === undefined ? undefined : this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id!);
      if (m.error) w.reject(new Error(m.error.message));
      else w.resolve(m.result);
    });
    // A session that ends leaves no call waiting for ever (the hub died, or was killed at the end).
    ws.on('close', () => {
      for (const w of this.waiting.values()) w.reject(new Error('the inspector session closed'));
      this.waiting.clear();
    });
  }

  /** The first target of the process listening on `port` (a Node process has one). */
  static async open(port: number): Promise<InspectorSession> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
    // Heap snapshot chunks and profiles can be large: no payload limit.
    const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl, { maxPayload: 0 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new InspectorSession(ws);
  }

  call(method: string, params: object = {}): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  on(event: string, listener: (params: unknown) => void): void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
  }

  close(): void {
    this.ws.close();
  }
}

/** This process's own inspector (no `--inspect` needed). */
export class OwnSession implements ProtocolSession {
  private readonly session = new Session();

  constructor() {
    this.session.connect();
  }

  call(method: string, params: object = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.session.post(method, params, (err, result) => (err ? reject(err) : resolve(result)));
    });
  }

  on(event: string, listener: (params: unknown) => void): void {
    this.session.on(event, (m: { params: unknown }) => listener(m.params));
  }

  close(): void {
    this.session.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// CPU profiles

interface CallFrame { functionName: string; scriptId: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; hitCount?: number; children?: number[] }
export interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples?: number[]; timeDeltas?: number[] }

export interface HotSpot {
  /** `function (file:line)`, the line of its start in the TypeScript source where a source map says. */
  what: string;
  ms: number;
  /** Of one core over the profiled window. */
  coreShare: number;
}

export interface HotSpots {
  seconds: number;
  /** Sampled time not idle, in cores. */
  busyCores: number;
  selfByFunction: HotSpot[];
  /** Time in a function and what it called (code under `totalUnder` only). */
  totalByFunction: HotSpot[];
}

/** A sampling CPU profile of the process behind `session`, over a window. */
export class CpuProfiler {
  private readonly scripts = new Map<string, { url: string; sourceMapURL: string }>();

  /** `totalUnder`: the source folder whose functions the totals list (the hub's `/server/`, the bench's `/bench/`). */
  constructor(readonly session: ProtocolSession, private readonly totalUnder = '/server/') {
    session.on('Debugger.scriptParsed', (p) => {
      const s = p as { scriptId: string; url: string; sourceMapURL?: string };
      this.scripts.set(s.scriptId, { url: s.url, sourceMapURL: s.sourceMapURL ?? '' });
    });
  }

  async start(intervalUs = 250): Promise<void> {
    await this.session.call('Profiler.enable');
    await this.session.call('Profiler.setSamplingInterval', { interval: intervalUs });
    await this.session.call('Profiler.start');
  }

  /** Stops the profile, writes it to `file` (Chrome DevTools opens it) and summarises it. */
  async stop(file: string, top = 15): Promise<HotSpots> {
    const { profile } = (await this.session.call('Profiler.stop')) as { profile: CpuProfile };
    writeFileSync(file, JSON.stringify(profile));
    // The scripts' source maps (tsx inlines one per file): enabling the debugger reports every parsed script.
    // After the window, so it costs the measurement nothing.
    if (this.scripts.size === 0) {
      await this.session.call('Debugger.enable');
      await this.session.call('Debugger.disable');
    }
    return summarizeProfile(profile, this.scripts, top, this.totalUnder);
  }

  close(): void {
    this.session.close();
  }
}

/** Top functions (self and, for the code under `totalUnder`, total) of a profile. */
export function summarizeProfile(profile: CpuProfile, scripts: Map<string, { url: string; sourceMapURL: string }>, top: number, totalUnder = '/server/'): HotSpots {
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  const hits = profile.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0);
  const msPerHit = hits > 0 ? (seconds * 1000) / hits : 0;
  const maps = new Map<string, SourceMap | null>();
  const mapOf = (scriptId: string) => {
    if (!maps.has(scriptId)) maps.set(scriptId, parseSourceMap(scripts.get(scriptId)?.sourceMapURL ?? ''));
    return maps.get(scriptId)!;
  };
  const place = (f: CallFrame, line0: number, col0: number) => {
    const m = f.url ? mapOf(f.scriptId)?.lookup(line0, col0) : null;
    if (m) return `${shortPath(m.source)}:${m.line + 1}`;
    return f.url ? `${shortPath(f.url)}:${line0 + 1}` : '';
  };
  const fnKey = (f: CallFrame) => {
    const at = place(f, f.lineNumber, f.columnNumber);
    return `${f.functionName || '(anonymous)'}${at ? ` (${at})` : ''}`;
  };
  const IDLE = new Set(['(idle)']);
  const self = new Map<string, number>();
  let busyHits = 0;
  for (const n of profile.nodes) {
    const h = n.hitCount ?? 0;
    if (h === 0) continue;
    if (!IDLE.has(n.callFrame.functionName)) busyHits += h;
    const key = fnKey(n.callFrame);
    self.set(key, (self.get(key) ?? 0) + h);
  }
  // Total: each node's hits count once for every distinct function on its stack (code under `totalUnder` only).
  const parent = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const total = new Map<string, number>();
  for (const n of profile.nodes) {
    const h = n.hitCount ?? 0;
    if (h === 0) continue;
    const keys = new Set<string>();
    for (let x: ProfileNode | undefined = n; x; x = parent.get(x.id)) {
      const at = mapOf(x.callFrame.scriptId) && x.callFrame.url.includes(totalUnder) ? fnKey(x.callFrame) : null;
      if (at) keys.add(at);
    }
    for (const k of keys) total.set(k, (total.get(k) ?? 0) + h);
  }
  const list = (m: Map<string, number>) => [...m].filter(([k]) => !IDLE.has(k.split(' (')[0]!)).sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([what, h]) => ({ what, ms: h * msPerHit, coreShare: seconds > 0 ? (h * msPerHit) / 1000 / seconds : 0 }));
  return { seconds, busyCores: seconds > 0 ? (busyHits * msPerHit) / 1000 / seconds : 0, selfByFunction: list(self), totalByFunction: list(total) };
}

function shortPath(urlOrPath: string): string {
  const path = urlOrPath.startsWith('file://') ? fileURLToPath(urlOrPath) : urlOrPath;
  return path.startsWith('/') ? relative(ROOT, path) : path;
}

// ---------------------------------------------------------------------------------------------
// Source maps (v3): generated line/column → source line

interface SourceMap {
  lookup(line0: number, col0: number): { source: string; line: number } | null;
}

const B64 = new Map([...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].map((c, i) => [c, i]));

/** A `data:` source map URL (what tsx inlines); null for anything else. */
export function parseSourceMap(url: string): SourceMap | null {
  const m = /^data:application\/json(?:;charset=[^;,]+)?;base64,(.*)$/.exec(url);
  if (!m) return null;
  let raw: { sources: string[]; sourceRoot?: string; mappings: string };
  try {
    raw = JSON.parse(Buffer.from(m[1]!, 'base64').toString('utf8')) as typeof raw;
  } catch {
    return null;
  }
  // Per generated line: [column, source, source line] segments, in column order.
  const lines: Array<Array<[number, number, number]>> = [];
  let src = 0;
  let srcLine = 0;
  for (const text of raw.mappings.split(';')) {
    const segs: Array<[number, number, number]> = [];
    let col = 0;
    for (const seg of text.split(',')) {
      if (!seg) continue;
      const v = decodeVlq(seg);
      col += v[0]!;
      if (v.length >= 4) {
        src += v[1]!;
        srcLine += v[2]!; // v[3], the source column, is not needed for a line
        segs.push([col, src, srcLine]);
      }
    }
    lines.push(segs);
  }
  const sources = raw.sources.map((s) => (raw.sourceRoot ? `${raw.sourceRoot.replace(/\/$/, '')}/${s}` : s));
  return {
    lookup(line0, col0) {
      const segs = lines[line0];
      if (!segs || segs.length === 0) return null;
      let best = segs[0]!;
      for (const s of segs) if (s[0] <= col0) best = s;
      return { source: sources[best[1]] ?? '?', line: best[2] };
    },
  };
}

function decodeVlq(seg: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const c of seg) {
    const d = B64.get(c) ?? 0;
    value += (d & 31) << shift;
    if (d & 32) {
      shift += 5;
      continue;
    }
    out.push(value & 1 ? -(value >>> 1) : value >>> 1);
    value = 0;
    shift = 0;
  }
  return out;
}

/**
 * The screens on the hub's live stream for the capacity part (issue 7: "how
 * fast an alert reaches a screen"). A city's monitoring center has many open
 * at once: operators on duty, a few supervisors (shift leads, on the same
 * operator page), family doctors with the doctor page open. Each here is its
 * own account, signed in with its own session, on `/api/v1/stream`, asking
 * for what its page asks for (dashboards/web/pages, server/realtime/streamHub.ts):
 *
 * - the first console is the part's historical one (`--console all`: no
 *   watch, every reading, as a pass-through's subscriber gets every message;
 *   `--console selected`: the first resident's readings), so one console
 *   gives the figures the part always gave;
 * - every other operator and supervisor: the operator page with an alert
 *   selected, `{"watch": {"residents": [its resident]}}` (OperatorPage.tsx
 *   always sends a watch, and keeps the top of the queue selected), each a
 *   different resident; every alert (the call center sees all);
 * - a doctor: the doctor page sends no watch, so every reading of their
 *   patients, and their patients' alerts (plus what was escalated to them:
 *   nothing here). The fleet's residents are shared out among the doctors.
 *
 * Publish → first alert event naming the reading is stamped on every console
 * (in this process: each stamp also waits for this process to reach that
 * socket, so with many consoles read the client's event-loop figure too).
 *
 * And a CPU profile of the hub (DevTools protocol over `--inspect`),
 * summarised by function, each at the source line where it starts (through
 * tsx's inline source maps), to tell where the cost of many screens goes
 * (`--profile 1`). Not by line within a function: tsx's output puts many
 * source lines on one, and V8's line ticks have no column.
 */
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import WebSocket from 'ws';
import { httpJson } from '../test/helpers/process.js';
import { wallClockMs, type AbnormalSent } from './loadGenerator.js';
import { summarizeLatency, type LatencySummary } from './procStats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The part's historical console (one operator account). */
export const FIRST_CONSOLE = 'bench-operator';
export const CONSOLE_ROLES = ['operator', 'supervisor', 'doctor'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

export interface ConsolePlan {
  username: string;
  role: ConsoleRole;
  /** The `watch` sent before the resume; absent: none (every reading it may see). */
  watch?: { residents: string[] };
  /** What it asks for, for people. */
  view: string;
  /** A doctor's patients (their `doctor` is this user); absent for the call center, which sees every alert. */
  patients?: string[];
}

/**
 * `n` consoles in the order they open (the hub sends each commit's events to
 * its subscribers in that order, so the last is the last screen served): the
 * first as `first` says, then operators, supervisors and doctors interleaved
 * evenly. Of n: `doctorPct` % doctors (default 20: n/5), n/15 supervisors
 * (at least one from n = 2), the rest operators. `residents` are the fleet's (one per cuff); a call-center
 * console watches resident ⌊k·R/n⌋, so no two watch the same one.
 */
export function consoleMix(n: number, first: 'all' | 'selected', residents: string[], doctorPct = 20): ConsolePlan[] {
  if (n > residents.length) throw new Error(`--consoles ${n} is more than the fleet's ${residents.length} residents (each console watches its own)`);
  const doctors = Math.min(n - 1, Math.floor((n * doctorPct) / 100));
  const supervisors = n - 1 - doctors >= 1 ? Math.max(1, Math.floor(n / 15)) : 0;
  const operators = n - 1 - doctors - supervisors;
  const counts: Record<ConsoleRole, number> = { operator: operators, supervisor: supervisors, doctor: doctors };
  const pad = (i: number, w: number) => String(i).padStart(w, '0');
  // Each role's members spread over the line: member i of c at (i + ½) / c, ties in role order.
  const rest = CONSOLE_ROLES.flatMap((role, r) => Array.from({ length: counts[role] }, (_, i) => ({ role, i, key: (i + 0.5) / counts[role], r })))
    .sort((a, b) => a.key - b.key || a.r - b.r);
  const watching = (k: number) => residents[Math.floor((k * residents.length) / n)]!;
  const plans: ConsolePlan[] = [
    first === 'all'
      ? { username: FIRST_CONSOLE, role: 'operator', view: 'every reading (--console all)' }
      : { username: FIRST_CONSOLE, role: 'operator', watch: { residents: [residents[0]!] }, view: `resident ${residents[0]} (--console selected)` },
  ];
  rest.forEach(({ role, i }, j) => {
    const k = j + 1;
    if (role === 'doctor') {
      const patients = residents.filter((_, x) => x % doctors === i);
      plans.push({ username: `bench-doctor-${pad(i + 1, 3)}`, role, patients, view: `their ${patients.length} patients' readings` });
    } else {
      // Operators number from 2: the first console is operator 1.
      const username = role === 'operator' ? `${FIRST_CONSOLE}-${pad(i + 2, 3)}` : `bench-supervisor-${pad(i + 1, 3)}`;
      plans.push({ username, role, watch: { residents: [watching(k)] }, view: `resident ${watching(k)}` });
    }
  });
  return plans;
}

export function roleCounts(plans: ConsolePlan[]): Record<ConsoleRole, number> {
  const c: Record<ConsoleRole, number> = { operator: 0, supervisor: 0, doctor: 0 };
  for (const p of plans) c[p.role] += 1;
  return c;
}

/** The import document's users for `plans`, and each doctor's patients given that doctor (in place). */
export function addConsoleAccounts(doc: { homes: object[]; users?: object[] }, plans: ConsolePlan[]): void {
  doc.users = plans.map((p) => ({ username: p.username, role: p.role, name: p.username === FIRST_CONSOLE ? 'benchmark operator' : `benchmark ${p.role} ${p.username}` }));
  const doctorOf = new Map(plans.flatMap((p) => (p.patients ?? []).map((r) => [r, p.username] as const)));
  for (const home of doc.homes as Array<{ residents?: Array<{ id: string; doctor?: string }> }>) {
    for (const r of home.residents ?? []) if (doctorOf.has(r.id)) r.doctor = doctorOf.get(r.id)!;
  }
}

// ---------------------------------------------------------------------------------------------
// One console on the live stream

type Seen = Map<string, { created: boolean; atMs: number }>;

/** Resumes at once after `hello`; stamps the first alert event naming each reading (`lastReading`). */
export class AlertStream {
  readonly seen: Seen = new Map();
  readonly counts: Record<string, number> = {};
  messages = 0;
  closedBy: string | null = null;
  /** Off: only count what arrives (after the paced leg, so a saturating leg's alerts cost this process little). */
  stamping = true;

  private constructor(private readonly socket: WebSocket) {}

  /** `watch`, when given, is sent before the resume (see server/realtime/streamHub.ts). */
  static async open(httpUrl: string, token: string, watch?: object): Promise<AlertStream> {
    const socket = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/api/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
    const stream = new AlertStream(socket);
    let live = false;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no hello/resumed on the stream within 10 s')), 10_000);
      socket.once('error', reject);
      socket.on('message', (raw: Buffer) => {
        if (live) return stream.onEvent(raw);
        const msg = JSON.parse(raw.toString()) as { type?: string; seq?: number };
        if (msg.type === 'hello') {
          if (watch) socket.send(JSON.stringify({ watch }));
          socket.send(JSON.stringify({ resume: msg.seq }));
        }
        if (msg.type === 'resumed') {
          live = true;
          clearTimeout(timer);
          resolve();
        }
      });
    }).catch((err: unknown) => {
      socket.terminate();
      throw err;
    });
    socket.on('close', (code) => (stream.closedBy ??= `hub (${code})`));
    return stream;
  }

  private onEvent(raw: Buffer): void {
    const atMs = wallClockMs();
    this.messages += 1;
    const type = /"type":"([^"]+)"/.exec(raw.toString('latin1', 0, 64))?.[1] ?? '?';
    this.counts[type] = (this.counts[type] ?? 0) + 1;
    if (!this.stamping || (type !== 'alert.created' && type !== 'alert.updated')) return;
    const r = (JSON.parse(raw.toString()) as { data: { lastReading?: { deviceId: string; id: string } | null } }).data.lastReading;
    if (r && !this.seen.has(`${r.deviceId}/${r.id}`)) this.seen.set(`${r.deviceId}/${r.id}`, { created: type === 'alert.created', atMs });
  }

  close(): void {
    this.closedBy ??= 'us';
    this.socket.close();
  }
}

/**
 * Publish → first alert event per abnormal reading, µs, split by the event's
 * kind; `offsetMs` is the generator's clock minus ours (`clockOffset`).
 */
export function alertLatencies(sent: AbnormalSent, seen: Seen, offsetMs: number): { createdUs: Float64Array; updatedUs: Float64Array; missing: number; unexpectedKind: number } {
  const created: number[] = [];
  const updated: number[] = [];
  let missing = 0;
  let unexpectedKind = 0;
  sent.keys.forEach((key, i) => {
    const s = seen.get(key);
    if (!s) return void (missing += 1);
    (s.created ? created : updated).push((s.atMs - (sent.sentAtMs[i]! - offsetMs)) * 1000);
    if (s.created !== (sent.expectCreated[i] === 1)) unexpectedKind += 1;
  });
  return { createdUs: Float64Array.from(created), updatedUs: Float64Array.from(updated), missing, unexpectedKind };
}

/** The abnormal readings whose alerts `plan` may see: all for the call center, a doctor's patients' only. */
export function visibleTo(plan: ConsolePlan, sent: AbnormalSent, residentOfDevice: (deviceId: string) => string): AbnormalSent {
  if (!plan.patients) return sent;
  const mine = new Set(plan.patients);
  const at = sent.keys.flatMap((k, i) => (mine.has(residentOfDevice(k.slice(0, k.indexOf('/')))) ? [i] : []));
  return { keys: at.map((i) => sent.keys[i]!), sentAtMs: Float64Array.from(at, (i) => sent.sentAtMs[i]!), expectCreated: Uint8Array.from(at, (i) => sent.expectCreated[i]!) };
}

// ---------------------------------------------------------------------------------------------
// Every console

export interface ConsoleFigures {
  username: string;
  role: ConsoleRole;
  view: string;
  /** Abnormal readings in the paced window whose alert it may see. */
  expected: number;
  created: LatencySummary;
  updated: LatencySummary;
  missing: number;
  unexpectedKind: number;
  /** Stream messages per second over the paced window. */
  messagesPerSecond: number;
}

export interface ConsolesSummary {
  count: number;
  mix: Record<ConsoleRole, number>;
  /** Every console's samples together. */
  created: LatencySummary;
  updated: LatencySummary;
  /** The console with the highest p99 (with few samples, a doctor's p99 is close to its max). */
  worstCreated: { username: string; role: ConsoleRole; p99Ms: number; count: number };
  worstUpdated: { username: string; role: ConsoleRole; p99Ms: number; count: number };
  /** The last console opened: the last the hub sends each commit's events to. */
  last: { username: string; role: ConsoleRole; created: LatencySummary; updated: LatencySummary };
  /** Stream messages per second over the paced window: to all consoles, the first, and per console by role (mean). */
  messagesPerSecond: { all: number; first: number; byRole: Partial<Record<ConsoleRole, number>> };
  /** This process (every console's client) over the paced window: its event loop's busy share. */
  clientEventLoopBusy: number;
  missing: number;
  perConsole: ConsoleFigures[];
}

export class ConsoleSet {
  private marks: number[] = [];

  private constructor(readonly plans: ConsolePlan[], readonly streams: AlertStream[]) {}

  /** Signs every account in (its own session), then opens the streams one after another, in plan order. */
  static async open(httpUrl: string, plans: ConsolePlan[], passwords: Map<string, string>): Promise<ConsoleSet> {
    const tokens: string[] = new Array(plans.length);
    let next = 0;
    // Password checks are scrypt in libuv's pool: a few at a time.
    await Promise.all(Array.from({ length: Math.min(4, plans.length) }, async () => {
      for (let i = next++; i < plans.length; i = next++) {
        const { username } = plans[i]!;
        const login = await httpJson(`${httpUrl}/api/v1/auth/login`, { body: { username, password: passwords.get(username) } });
        if (login.status !== 200) throw new Error(`${username} sign-in failed: ${login.status} ${JSON.stringify(login.body)}`);
        tokens[i] = login.body.token as string;
      }
    }));
    const streams: AlertStream[] = [];
    try {
      for (const [i, plan] of plans.entries()) streams.push(await AlertStream.open(httpUrl, tokens[i]!, plan.watch));
    } catch (err) {
      for (const s of streams) s.close();
      throw err;
    }
    return new ConsoleSet(plans, streams);
  }

  get first(): AlertStream {
    return this.streams[0]!;
  }

  /** Every console's messages so far. */
  messages(): number {
    return this.streams.reduce((n, s) => n + s.messages, 0);
  }

  /** Starts a window: each console's message count and this process's event loop. */
  mark(): () => { perConsole: number[]; seconds: number; eventLoopBusy: number } {
    this.marks = this.streams.map((s) => s.messages);
    const elu0: EventLoopUtilization = performance.eventLoopUtilization();
    const t0 = performance.now();
    return () => ({
      perConsole: this.streams.map((s, i) => s.messages - this.marks[i]!),
      seconds: (performance.now() - t0) / 1000,
      eventLoopBusy: performance.eventLoopUtilization(elu0).utilization,
    });
  }

  stopStamping(): void {
    for (const s of this.streams) s.stamping = false;
  }

  /** What each console may see of `sent`. */
  expected(sent: AbnormalSent, residentOfDevice: (deviceId: string) => string): AbnormalSent[] {
    return this.plans.map((p) => visibleTo(p, sent, residentOfDevice));
  }

  /** Waits until every console has an alert event for each reading it may see, or `ms` passed. */
  async waitForAlerts(expected: AbnormalSent[], ms: number): Promise<void> {
    const until = Date.now() + ms;
    const done = () => this.streams.every((s, i) => expected[i]!.keys.every((k) => s.seen.has(k)));
    while (!done() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  figures(expected: AbnormalSent[], offsetMs: number, window: { perConsole: number[]; seconds: number; eventLoopBusy: number }): ConsolesSummary {
    const created: Float64Array[] = [];
    const updated: Float64Array[] = [];
    const perConsole = this.plans.map((plan, i): ConsoleFigures => {
      const l = alertLatencies(expected[i]!, this.streams[i]!.seen, offsetMs);
      created.push(l.createdUs);
      updated.push(l.updatedUs);
      return {
        username: plan.username, role: plan.role, view: plan.view, expected: expected[i]!.keys.length,
        created: summarizeLatency(l.createdUs), updated: summarizeLatency(l.updatedUs), missing: l.missing, unexpectedKind: l.unexpectedKind,
        messagesPerSecond: window.perConsole[i]! / window.seconds,
      };
    });
    const concat = (parts: Float64Array[]) => {
      const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
      return all;
    };
    const worst = (get: (c: ConsoleFigures) => LatencySummary) => {
      const w = perConsole.filter((c) => get(c).count > 0).reduce((a, c) => (get(c).p99Ms > get(a).p99Ms ? c : a), perConsole[0]!);
      return { username: w.username, role: w.role, p99Ms: get(w).p99Ms, count: get(w).count };
    };
    const last = perConsole[perConsole.length - 1]!;
    const byRole: Partial<Record<ConsoleRole, number>> = {};
    for (const role of CONSOLE_ROLES) {
      // The first console is left out of its role's mean when it takes every reading.
      const of = perConsole.filter((c, i) => c.role === role && !(i === 0 && !this.plans[0]!.watch));
      if (of.length > 0) byRole[role] = of.reduce((n, c) => n + c.messagesPerSecond, 0) / of.length;
    }
    return {
      count: this.plans.length,
      mix: roleCounts(this.plans),
      created: summarizeLatency(concat(created)),
      updated: summarizeLatency(concat(updated)),
      worstCreated: worst((c) => c.created),
      worstUpdated: worst((c) => c.updated),
      last: { username: last.username, role: last.role, created: last.created, updated: last.updated },
      messagesPerSecond: { all: window.perConsole.reduce((a, b) => a + b, 0) / window.seconds, first: perConsole[0]!.messagesPerSecond, byRole },
      clientEventLoopBusy: window.eventLoopBusy,
      missing: perConsole.reduce((n, c) => n + c.missing, 0),
      perConsole,
    };
  }

  /** Consoles the hub closed (too slow a reader, session ended). */
  closedByHub(): string[] {
    return this.streams.flatMap((s, i) => (s.closedBy && s.closedBy !== 'us' ? [`${this.plans[i]!.username}: ${s.closedBy}`] : []));
  }

  close(): void {
    for (const s of this.streams) s.close();
  }
}

// ---------------------------------------------------------------------------------------------
// A CPU profile of the hub, through the DevTools protocol (`--inspect`)

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
  /** Time in a function and what it called (hub code only). */
  totalByFunction: HotSpot[];
}

export class HubProfiler {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  private readonly scripts = new Map<string, { url: string; sourceMapURL: string }>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (raw: Buffer) => {
      const m = JSON.parse(raw.toString()) as { id?: number; method?: string; params?: { scriptId: string; url: string; sourceMapURL?: string }; result?: unknown; error?: { message: string } };
      if (m.method === 'Debugger.scriptParsed' && m.params) this.scripts.set(m.params.scriptId, { url: m.params.url, sourceMapURL: m.params.sourceMapURL ?? '' });
      const w = m.id === undefined ? undefined : this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id!);
      if (m.error) w.reject(new Error(m.error.message));
      else w.resolve(m.result);
    });
  }

  static async open(port: number): Promise<HubProfiler> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
    const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl, { maxPayload: 0 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new HubProfiler(ws);
  }

  private call(method: string, params: object = {}): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async start(intervalUs = 250): Promise<void> {
    await this.call('Profiler.enable');
    await this.call('Profiler.setSamplingInterval', { interval: intervalUs });
    await this.call('Profiler.start');
  }

  /** Stops the profile, writes it to `file` (Chrome DevTools opens it) and summarises it. */
  async stop(file: string, top = 15): Promise<HotSpots> {
    const { profile } = (await this.call('Profiler.stop')) as { profile: CpuProfile };
    writeFileSync(file, JSON.stringify(profile));
    // The scripts' source maps (tsx inlines one per file): enabling the debugger reports every parsed script.
    // After the window, so it costs the measurement nothing.
    if (this.scripts.size === 0) {
      await this.call('Debugger.enable');
      await this.call('Debugger.disable');
    }
    return summarizeProfile(profile, this.scripts, top);
  }

  close(): void {
    this.ws.close();
  }
}

/** Top functions (self and, for the hub's own code, total) and source lines of a profile. */
export function summarizeProfile(profile: CpuProfile, scripts: Map<string, { url: string; sourceMapURL: string }>, top: number): HotSpots {
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
  // Total: each node's hits count once for every distinct function on its stack (hub code only).
  const parent = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const total = new Map<string, number>();
  for (const n of profile.nodes) {
    const h = n.hitCount ?? 0;
    if (h === 0) continue;
    const keys = new Set<string>();
    for (let x: ProfileNode | undefined = n; x; x = parent.get(x.id)) {
      const at = mapOf(x.callFrame.scriptId) && x.callFrame.url.includes('/server/') ? fnKey(x.callFrame) : null;
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

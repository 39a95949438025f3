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
 * Publish → first alert event naming the reading is stamped on every console,
 * in the process that hosts the console (consoleClients.ts): the bench's own
 * by default, or `--console-processes` child processes sharing them out, on
 * clocks whose offsets to the bench's are measured and subtracted.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { httpJson } from '../test/helpers/process.js';
import { ConsoleClients, type ConsoleEnd, type FromConsoles, type ToConsoles } from './consoleClients.js';
import type { HotSpots } from './inspector.js';
import { wallClockMs, type AbnormalSent } from './loadGenerator.js';
import { killChild, summarizeLatency, type LatencySummary } from './procStats.js';

const SCRIPT = fileURLToPath(new URL('./consoleClients.ts', import.meta.url));
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
// Alert latency

type Seen = Map<string, { created: boolean; atMs: number }>;

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
// Where the consoles run: child processes (consoleClients.ts), or this one

/** A process hosting consoles: one command at a time, each answered. */
interface ConsoleHost {
  /** Its clock minus the bench's, ms (0 in this process). */
  offsetMs: number;
  /** Its pid when a process of its own, to meter its CPU; null in this process. */
  readonly pid: number | null;
  ask<E extends FromConsoles['ev']>(m: ToConsoles, ev: E): Promise<Extract<FromConsoles, { ev: E }>>;
  kill(): Promise<void>;
}

class LocalHost implements ConsoleHost {
  offsetMs = 0;
  readonly pid = null;
  private readonly clients = new ConsoleClients();

  async ask<E extends FromConsoles['ev']>(m: ToConsoles, ev: E): Promise<Extract<FromConsoles, { ev: E }>> {
    const r = await this.clients.handle(m);
    if (r.ev !== ev) throw new Error(`console clients answered ${r.ev} to ${m.cmd}`);
    return r as Extract<FromConsoles, { ev: E }>;
  }

  async kill(): Promise<void> {}
}

class ChildHost implements ConsoleHost {
  offsetMs = 0;
  private readonly waiting: Array<{ resolve: (m: FromConsoles) => void; reject: (e: Error) => void }> = [];
  private failure: Error | null = null;
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    child.stderr!.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    // Answers come in the order of the commands (consoleClients.ts handles one at a time).
    child.on('message', (m: FromConsoles) => {
      const w = this.waiting.shift();
      if (m.ev === 'failed') w?.reject(new Error(`console clients: ${m.message}`));
      else w?.resolve(m);
    });
    child.on('exit', (code, signal) => {
      this.failure ??= new Error(`console clients exited (${code ?? signal}):\n${this.stderr}`);
      for (const w of this.waiting.splice(0)) w.reject(this.failure);
    });
  }

  static start(): ChildHost {
    // 'advanced' IPC carries the Float64Arrays as they are.
    return new ChildHost(fork(SCRIPT, [], { cwd: ROOT, execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'pipe', 'ipc'] }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  ask<E extends FromConsoles['ev']>(m: ToConsoles, ev: E): Promise<Extract<FromConsoles, { ev: E }>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({
        resolve: (r) => (r.ev === ev ? resolve(r as Extract<FromConsoles, { ev: E }>) : reject(new Error(`console clients answered ${r.ev} to ${m.cmd}`))),
        reject,
      });
      this.child.send(m);
    });
  }

  /** Its clock's offset to ours: the round trip of the shortest of `rounds`, its stamp against our midpoint (as loadGenerator's). */
  async measureClock(rounds = 20): Promise<void> {
    let best = { offsetMs: NaN, rttMs: Infinity };
    for (let i = 0; i < rounds; i++) {
      const t1 = wallClockMs();
      const m = await this.ask({ cmd: 'clock' }, 'clock');
      const t2 = wallClockMs();
      if (t2 - t1 < best.rttMs) best = { offsetMs: m.ms - (t1 + t2) / 2, rttMs: t2 - t1 };
    }
    this.offsetMs = best.offsetMs;
  }

  async kill(): Promise<void> {
    await killChild(this.child);
  }
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
  /** The consoles' processes over the paced window: the busiest one's event loop busy share, each one's, and how many (0: the bench's own). */
  clientEventLoopBusy: number;
  clientEventLoopBusyByProcess: number[];
  clientProcesses: number;
  /** The console processes' clocks minus the bench's, ms (subtracted from their stamps). */
  clientClockOffsetsMs: number[];
  missing: number;
  perConsole: ConsoleFigures[];
}

/** A measured window of the consoles: messages per console (in plan order), their processes' event loops. */
export interface ConsoleWindow {
  perConsole: number[];
  seconds: number;
  /** The busiest console process's event loop over the window (the one whose stamps waited most). */
  eventLoopBusy: number;
  /** Every console process's, in host order. */
  eventLoopBusyByProcess: number[];
  /** With a profile asked for: each console process's hot spots. */
  profiles?: Array<HotSpots & { file: string }>;
}

export class ConsoleSet {
  private seen: Seen[] = [];
  private counts: Array<Record<string, number>> = [];
  private ends: ConsoleEnd[] | null = null;
  /** Console i's host, and its index among that host's consoles. */
  private readonly hostOf: number[];
  private readonly localOf: number[];

  private constructor(readonly plans: ConsolePlan[], private readonly hosts: ConsoleHost[]) {
    this.hostOf = plans.map((_, i) => i % hosts.length);
    this.localOf = plans.map((_, i) => Math.floor(i / hosts.length));
  }

  /**
   * Signs every account in (its own session), then opens the streams one after another, in plan order,
   * shared out in turn over `processes` child processes (0: in this process).
   */
  static async open(httpUrl: string, plans: ConsolePlan[], passwords: Map<string, string>, processes: number): Promise<ConsoleSet> {
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
    const hosts: ConsoleHost[] = processes === 0 ? [new LocalHost()] : Array.from({ length: Math.min(processes, plans.length) }, () => ChildHost.start());
    const set = new ConsoleSet(plans, hosts);
    try {
      // In plan order across the processes: the hub serves each commit's events to its sockets in the order they opened.
      for (const [i, plan] of plans.entries()) {
        await hosts[set.hostOf[i]!]!.ask({ cmd: 'open', httpUrl, token: tokens[i]!, ...(plan.watch && { watch: plan.watch }) }, 'opened');
      }
      for (const h of hosts) if (h instanceof ChildHost) await h.measureClock();
    } catch (err) {
      await set.close().catch(() => {});
      throw err;
    }
    return set;
  }

  /** The console processes' pids (their CPU is the consoles' CPU); empty when they run in this process. */
  get pids(): number[] {
    return this.hosts.flatMap((h) => (h.pid === null ? [] : [h.pid]));
  }

  get processes(): number {
    return this.pids.length;
  }

  /** The clocks' offsets to the bench's, ms, per console process. */
  get clockOffsetsMs(): number[] {
    return this.hosts.map((h) => h.offsetMs);
  }

  /** The first console's messages by type (as of `waitForAlerts`). */
  get firstCounts(): Record<string, number> {
    return { ...(this.counts[0] ?? {}) };
  }

  /** Starts a window: each console's message count and its process's event loop; `profileFile(k)`: a CPU profile of process k. */
  async mark(profileFile?: (k: number) => string): Promise<() => Promise<ConsoleWindow>> {
    await Promise.all(this.hosts.map((h, k) => h.ask({ cmd: 'mark', ...(profileFile && { profile: profileFile(k) }) }, 'marked')));
    return async () => {
      const ws = await Promise.all(this.hosts.map((h) => h.ask({ cmd: 'window' }, 'window')));
      const busy = ws.map((w) => w.eventLoopBusy);
      return {
        perConsole: this.plans.map((_, i) => ws[this.hostOf[i]!]!.perConsole[this.localOf[i]!]!),
        seconds: Math.max(...ws.map((w) => w.seconds)),
        eventLoopBusy: Math.max(...busy),
        eventLoopBusyByProcess: busy,
        ...(profileFile && { profiles: ws.map((w, k) => ({ ...w.profile!, file: profileFile(k) })) }),
      };
    };
  }

  async stopStamping(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.ask({ cmd: 'stopStamping' }, 'stopped')));
  }

  /** What each console may see of `sent`. */
  expected(sent: AbnormalSent, residentOfDevice: (deviceId: string) => string): AbnormalSent[] {
    return this.plans.map((p) => visibleTo(p, sent, residentOfDevice));
  }

  /** Waits until every console has an alert event for each reading it may see, or `ms` passed; then takes their stamps, on the bench's clock. */
  async waitForAlerts(expected: AbnormalSent[], ms: number): Promise<void> {
    const replies = await Promise.all(this.hosts.map((h, k) => h.ask({
      cmd: 'seen', waitMs: ms, expected: this.plans.flatMap((_, i) => (this.hostOf[i] === k ? [expected[i]!.keys] : [])),
    }, 'seen')));
    this.seen = this.plans.map((_, i) => {
      const host = this.hosts[this.hostOf[i]!]!;
      const c = replies[this.hostOf[i]!]!.consoles[this.localOf[i]!]!;
      return new Map(c.keys.map((k, j) => [k, { created: c.created[j] === 1, atMs: c.atMs[j]! - host.offsetMs }]));
    });
    this.counts = this.plans.map((_, i) => replies[this.hostOf[i]!]!.consoles[this.localOf[i]!]!.counts);
  }

  figures(expected: AbnormalSent[], offsetMs: number, window: ConsoleWindow): ConsolesSummary {
    const created: Float64Array[] = [];
    const updated: Float64Array[] = [];
    const perConsole = this.plans.map((plan, i): ConsoleFigures => {
      const l = alertLatencies(expected[i]!, this.seen[i] ?? new Map(), offsetMs);
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
      clientEventLoopBusyByProcess: window.eventLoopBusyByProcess,
      clientProcesses: this.processes,
      clientClockOffsetsMs: this.clockOffsetsMs,
      missing: perConsole.reduce((n, c) => n + c.missing, 0),
      perConsole,
    };
  }

  /** Consoles the hub closed (too slow a reader, session ended), as of `close`. */
  closedByHub(): string[] {
    return (this.ends ?? []).flatMap((e, i) => (e.closedBy && e.closedBy !== 'us' ? [`${this.plans[i]!.username}: ${e.closedBy}`] : []));
  }

  /** Who closed the first console, as of `close` (null: still open then). */
  get firstClosedBy(): string | null {
    return this.ends?.[0]?.closedBy ?? null;
  }

  /** Messages the first console and all of them got, as of `close`. */
  messages(): { first: number; all: number } {
    const ends = this.ends ?? [];
    return { first: ends[0]?.messages ?? 0, all: ends.reduce((n, e) => n + e.messages, 0) };
  }

  /** Closes every console (ours to close before the hub is killed, so a close by the hub stays visible) and ends their processes. */
  async close(): Promise<void> {
    if (this.ends) return;
    const ends: ConsoleEnd[][] = await Promise.all(this.hosts.map((h) => h.ask({ cmd: 'close' }, 'closed').then((r) => r.consoles, () => [])));
    this.ends = this.plans.map((_, i) => ends[this.hostOf[i]!]![this.localOf[i]!] ?? { closedBy: 'its process failed', counts: {}, messages: 0 });
    await Promise.all(this.hosts.map((h) => h.kill()));
  }
}

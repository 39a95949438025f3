/**
 * One home, simulated: its residents' days (by profile), its devices'
 * heartbeats and slowly draining batteries, motion through the day, and any
 * named scenario scheduled on top. Pure and deterministic: `advance(to)`
 * returns the gateway input lines (SPEC §8) due up to virtual time `to`, and
 * the same seed gives the same lines however the calls are chunked.
 */
import type { DeviceType, ReadingDraft } from '../deviceTypes.js';
import { MGDL_PER_MMOLL, MMHG_PER_KPA } from '../units.js';
import { bytesToHex, dateTimeParts, encodeBloodPressureMeasurement, encodeGlucoseMeasurement } from './gattEncoder.js';
import { deviceOfType, type HomeLayout, type SimDevice } from './homeLayout.js';
import { Rng } from './prng.js';
import { physiologyOf, planHomeDay, planResidentDay, type Physiology, type PlannedEvent } from './residentProfiles.js';
import { canRun, scenarioSteps, type ScenarioName, type ScenarioOptions, type ScenarioStep } from './scenarios.js';
import { DAY, localMidnight, localRfc3339, type SimClock } from './simClock.js';

/** One JSON line for the gateway's input: a SPEC §3 reading plus `"device"`, or a raw Bluetooth notification. */
export type GatewayLine = { device: string } & Record<string, unknown>;

interface EventBase {
  /** Virtual time. */
  at: number;
  /** When to send it (wall time; also its `ts`). */
  wallAt: number;
  homeId: string;
  /** For the console: what happened, when it is worth telling. */
  note?: string;
  scenario?: ScenarioName;
  /** This event is meant to raise its scenario's alert. */
  raises?: true;
}
export interface SimLineEvent extends EventBase {
  kind: 'line';
  line: GatewayLine;
  /** What the line is meant to say, in stored units (mmHg, mmol/L), before the device's rounding and encoding. */
  reading: ReadingDraft;
  residentId?: string;
}
export interface SimUplinkEvent extends EventBase { kind: 'uplink'; action: 'cut' | 'restore' }
export type SimEvent = SimLineEvent | SimUplinkEvent;

export interface HomeSimulatorOptions {
  clock: SimClock;
  /** The district's seed; the home forks its own streams from it by home id. */
  seed: string;
  /**
   * Only what a cuff or glucose meter keeps in memory: no heartbeats, motion,
   * falls or SOS. For back-filling past days (a meter syncing its memory).
   */
  measurementsOnly?: boolean;
}

type Pending =
  | { at: number; order: number; planned: PlannedEvent }
  | { at: number; order: number; step: ScenarioStep; scenario: ScenarioName };

interface Battery { level: number; since: number; drainPerDay: number }

/** Percent per (virtual) day: cuffs and meters run on AA cells, pendants and sensors on coin cells. */
const DRAIN_PER_DAY: Record<DeviceType, number> = { bp_cuff: 0.6, glucose_meter: 0.4, fall_sensor: 0.2, sos_button: 0.5, motion_sensor: 0.3 };
const MEASURED: ReadonlySet<string> = new Set(['blood_pressure', 'glucose']);

export class HomeSimulator {
  private readonly rng: Rng;
  private readonly physiology = new Map<string, Physiology>();
  private readonly batteries = new Map<string, Battery>();
  private readonly nextHeartbeat = new Map<string, number>();
  private readonly radio = new Map<string, Rng>();
  private readonly sequence = new Map<string, number>();
  private readonly planned = new Set<number>();
  private readonly firstMidnight: number;
  private pending: Pending[] = [];
  private order = 0;
  private cursor: number;
  private quietUntil = -Infinity;

  constructor(readonly home: HomeLayout, private readonly options: HomeSimulatorOptions) {
    const { clock } = options;
    this.rng = new Rng(options.seed).fork(`home/${home.homeId}`);
    this.cursor = clock.virtualStart;
    this.firstMidnight = localMidnight(clock.virtualStart);
    for (const r of home.residents) this.physiology.set(r.id, physiologyOf(r, this.rng.fork(`resident/${r.id}`)));
    for (const d of home.devices) {
      const rng = this.rng.fork(`device/${d.id}`);
      this.batteries.set(d.id, { level: Math.round(rng.between(55, 100)), since: clock.virtualStart, drainPerDay: DRAIN_PER_DAY[d.type] });
      // Every device is heard from within its first 10 s, then at its own interval.
      const interval = d.heartbeatSeconds * 1000;
      this.nextHeartbeat.set(d.id, clock.wallStart + Math.round(rng.between(500, Math.min(interval, 10_000))));
      this.radio.set(d.id, rng.fork('rssi'));
      this.sequence.set(d.id, rng.int(100, 900));
    }
  }

  get clock(): SimClock {
    return this.options.clock;
  }

  /** Battery percentage of a device at virtual time `at`. */
  battery(deviceId: string, at: number): number {
    const b = this.batteries.get(deviceId);
    if (!b) throw new Error(`no device ${deviceId} in home ${this.home.homeId}`);
    return Math.max(1, Math.round(b.level - (b.drainPerDay * (at - b.since)) / DAY));
  }

  /**
   * Plays scenario `name` from wall time `wallAt` on (not before what was
   * already emitted). Throws when the home lacks what it needs.
   */
  schedule(name: ScenarioName, wallAt: number, options: ScenarioOptions = {}): void {
    if (!canRun(this.home, name)) throw new Error(`home ${this.home.homeId} cannot play ${name}: it lacks the device or resident`);
    for (const step of scenarioSteps(name, this.home, options)) {
      const at = Math.max(this.clock.toVirtual(wallAt + step.afterMs), this.cursor + 1);
      this.pending.push({ at, order: this.order++, step, scenario: name });
    }
  }

  /** Every event after the previous call up to virtual time `to`, in time order. */
  advance(to: number): SimEvent[] {
    if (to <= this.cursor) return [];
    this.planDays(to);
    const due = this.pending.filter((p) => p.at <= to).sort((a, b) => a.at - b.at || a.order - b.order);
    this.pending = this.pending.filter((p) => p.at > to);
    const heartbeats = this.options.measurementsOnly ? [] : this.heartbeatsUntil(to);
    const out: SimEvent[] = [];
    let h = 0;
    for (const p of due) {
      while (h < heartbeats.length && heartbeats[h]!.at <= p.at) out.push(this.heartbeat(heartbeats[h++]!));
      const e = 'planned' in p ? this.fromPlan(p.planned) : this.fromStep(p.step, p.at, p.scenario);
      if (e) out.push(e);
    }
    while (h < heartbeats.length) out.push(this.heartbeat(heartbeats[h++]!));
    this.cursor = to;
    return out;
  }

  private planDays(to: number): void {
    const last = Math.floor((localMidnight(to) - this.firstMidnight) / DAY);
    for (let day = Math.floor((localMidnight(this.cursor) - this.firstMidnight) / DAY); day <= last; day++) {
      if (this.planned.has(day)) continue;
      this.planned.add(day);
      const midnight = this.firstMidnight + day * DAY;
      const dayRng = this.rng.fork(`day/${day}`);
      const events = this.home.residents.flatMap((r) => planResidentDay(r, this.physiology.get(r.id)!, midnight, dayRng.fork(r.id)));
      if (!this.options.measurementsOnly) events.push(...planHomeDay(this.home, midnight, dayRng.fork('home')));
      for (const planned of events.sort((a, b) => a.at - b.at)) {
        // A day that began before the simulation keeps only what is still ahead.
        if (planned.at > this.cursor) this.pending.push({ at: planned.at, order: this.order++, planned });
      }
    }
  }

  private heartbeatsUntil(to: number): Array<{ at: number; device: SimDevice }> {
    const out: Array<{ at: number; device: SimDevice }> = [];
    for (const device of this.home.devices) {
      for (let wall = this.nextHeartbeat.get(device.id)!; this.clock.toVirtual(wall) <= to; wall += device.heartbeatSeconds * 1000) {
        out.push({ at: this.clock.toVirtual(wall), device });
        this.nextHeartbeat.set(device.id, wall + device.heartbeatSeconds * 1000);
      }
    }
    return out.sort((a, b) => a.at - b.at);
  }

  private heartbeat({ at, device }: { at: number; device: SimDevice }): SimLineEvent {
    const draft: ReadingDraft = { type: 'heartbeat', battery: this.battery(device.id, at), rssi: Math.round(this.radio.get(device.id)!.normal(-62, 6, -90, -40)) };
    return this.lineEvent(at, this.render(device, draft, undefined, at), draft);
  }

  private fromPlan(p: PlannedEvent): SimLineEvent | null {
    if (this.options.measurementsOnly && !MEASURED.has(p.draft.type)) return null;
    if (p.draft.type === 'motion' && p.at < this.quietUntil) return null;
    const device = deviceOfType(this.home, p.device, p.residentId);
    if (!device) return null;
    return this.lineEvent(p.at, this.render(device, p.draft, p.residentId, p.at), p.draft, p.residentId, p.note);
  }

  private fromStep(step: ScenarioStep, at: number, scenario: ScenarioName): SimEvent | null {
    if (step.uplink) {
      return { kind: 'uplink', action: step.uplink, at, wallAt: this.clock.toWall(at), homeId: this.home.homeId, note: step.note, scenario };
    }
    if (step.quietMs !== undefined) this.quietUntil = at + this.clock.virtualSpan(step.quietMs);
    const r = step.reading;
    if (!r) return null;
    const device = deviceOfType(this.home, r.device, r.residentId);
    if (!device) return null;
    if (step.battery !== undefined) this.batteries.set(device.id, { ...this.batteries.get(device.id)!, level: step.battery, since: at });
    return { ...this.lineEvent(at, this.render(device, r.draft, r.residentId, at), r.draft, r.residentId, step.note), scenario, ...(step.raises && { raises: true }) };
  }

  private lineEvent(at: number, line: GatewayLine, reading: ReadingDraft, residentId?: string, note?: string): SimLineEvent {
    return {
      kind: 'line', at, wallAt: this.clock.toWall(at), homeId: this.home.homeId, line, reading,
      ...(residentId !== undefined && { residentId }), ...(note !== undefined && { note }),
    };
  }

  /** A draft (stored units) as the device sends it: its unit, its transport, stamped with the wall time. */
  private render(device: SimDevice, draft: ReadingDraft, residentId: string | undefined, at: number): GatewayLine {
    const wall = this.clock.toWall(at);
    // A shared cuff names who was measured; a bound device's readings are its resident's (SPEC §3).
    const named = residentId !== undefined && device.residentId === undefined && MEASURED.has(draft.type);
    if (draft.type === 'blood_pressure') {
      const kPa = device.unit === 'kPa';
      const values = kPa
        ? { systolic: toKpa(draft.systolic), diastolic: toKpa(draft.diastolic), unit: 'kPa' as const }
        : { systolic: draft.systolic, diastolic: draft.diastolic, unit: 'mmHg' as const };
      if (device.transport === 'ble' && !named) {
        const map = Math.round((draft.systolic + 2 * draft.diastolic) / 3);
        const frame = encodeBloodPressureMeasurement({
          ...values, map: kPa ? toKpa(map) : map, time: dateTimeParts(wall),
          ...(draft.pulse !== undefined && { pulse: draft.pulse }), ...(draft.irregularPulse !== undefined && { irregularPulse: draft.irregularPulse }),
        });
        return { device: device.id, characteristic: '2A35', hex: bytesToHex(frame) };
      }
      return { device: device.id, ...(named && { residentId }), ...draft, ...values, ts: localRfc3339(wall) };
    }
    if (draft.type === 'glucose') {
      const mg = device.unit === 'mg/dL';
      const value = mg ? Math.round(draft.value * MGDL_PER_MMOLL) : Math.round(draft.value * 10) / 10;
      if (device.transport === 'ble' && !named) {
        const sequenceNumber = this.sequence.get(device.id)!;
        this.sequence.set(device.id, (sequenceNumber + 1) & 0xffff);
        const frame = encodeGlucoseMeasurement({ sequenceNumber, time: dateTimeParts(wall), value, unit: mg ? 'mg/dL' : 'mmol/L' });
        return { device: device.id, characteristic: '2A18', hex: bytesToHex(frame) };
      }
      return { device: device.id, ...(named && { residentId }), ...draft, value, unit: mg ? 'mg/dL' : 'mmol/L', ts: localRfc3339(wall) };
    }
    return { device: device.id, ...draft, ts: localRfc3339(wall) };
  }
}

function toKpa(mmHg: number): number {
  return Math.round((mmHg / MMHG_PER_KPA) * 10) / 10;
}

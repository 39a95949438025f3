/** Daily life of the simulated homes: deterministic, valid for the gateway and hub, and shaped like the profiles say. */
import { describe, expect, it } from 'vitest';
import { decodeGattNotification, hexToBytes } from '../../../devices/gatt/index.js';
import { buildDemoDistrict } from '../../../devices/simulators/demoDistrict.js';
import { HomeSimulator, type SimEvent, type SimLineEvent } from '../../../devices/simulators/homeSimulator.js';
import type { HomeLayout } from '../../../devices/simulators/homeLayout.js';
import { atLocalTime, DAY, HOUR, localMidnight, localMinutes, SimClock } from '../../../devices/simulators/simClock.js';
import { MGDL_PER_MMOLL, MMHG_PER_KPA } from '../../../devices/units.js';
import { throughGateway } from './throughGateway.js';

const WALL = Date.parse('2025-03-10T10:00:00+08:00');
const district = buildDemoDistrict('sim-test', 12);
const homes = district.homes.map((h) => h.layout);

function clock(scale = 60): SimClock {
  return new SimClock({ wallStart: WALL, virtualStart: atLocalTime(localMidnight(WALL), '06:50'), scale });
}

function run(home: HomeLayout, seed: string, days: number, opts: { chunks?: number; scale?: number; measurementsOnly?: boolean } = {}): SimEvent[] {
  const c = clock(opts.scale);
  const sim = new HomeSimulator(home, { clock: c, seed, measurementsOnly: opts.measurementsOnly });
  const end = c.virtualStart + days * DAY;
  const chunks = opts.chunks ?? 1;
  const out: SimEvent[] = [];
  for (let i = 1; i <= chunks; i++) out.push(...sim.advance(c.virtualStart + ((end - c.virtualStart) * i) / chunks));
  return out;
}

const lines = (events: SimEvent[]) => events.filter((e): e is SimLineEvent => e.kind === 'line');

describe('determinism', () => {
  it('gives identical output for the same seed, and different output for another seed', () => {
    for (const home of homes.slice(0, 4)) {
      expect(JSON.stringify(run(home, 'a', 2))).toBe(JSON.stringify(run(home, 'a', 2)));
      expect(JSON.stringify(run(home, 'a', 2))).not.toBe(JSON.stringify(run(home, 'b', 2)));
    }
    expect(JSON.stringify(buildDemoDistrict('x', 30))).toBe(JSON.stringify(buildDemoDistrict('x', 30)));
    expect(JSON.stringify(buildDemoDistrict('x', 30))).not.toBe(JSON.stringify(buildDemoDistrict('y', 30)));
  });

  it('does not depend on how the time is chunked', () => {
    const home = homes[2]!;
    expect(JSON.stringify(run(home, 'a', 2, { chunks: 1 }))).toBe(JSON.stringify(run(home, 'a', 2, { chunks: 577 })));
  });

  it('keeps a home\'s life when the district grows', () => {
    expect(buildDemoDistrict('x', 3).homes).toEqual(buildDemoDistrict('x', 20).homes.slice(0, 3));
  });
});

describe('every line is valid for the gateway and the hub', () => {
  const all = homes.map((home) => ({ home, events: lines(run(home, 'valid', 3)) }));

  it.each(homes.map((h, i) => [h.homeId, i] as const))('%s: its lines pass the gateway and validateReading, stamped when sent', (_id, i) => {
    const { home, events } = all[i]!;
    expect(events.length).toBeGreaterThan(50);
    for (const e of events) {
      const stored = throughGateway(e.line, home, e.wallAt + 300);
      expect(stored.type).toBe(e.reading.type);
      // Bluetooth time stamps have whole seconds.
      expect(Math.abs(stored.ts - e.wallAt)).toBeLessThan(1000);
      expect(stored.ts).toBeLessThanOrEqual(e.wallAt);
    }
  });

  it('Bluetooth frames decode with decodeGattNotification back to the intended values, in the device\'s unit and clock', () => {
    let frames = 0;
    for (const { home, events } of all) {
      for (const e of events.filter((x) => 'hex' in x.line)) {
        frames++;
        const device = home.devices.find((d) => d.id === e.line.device)!;
        const decoded = decodeGattNotification(e.line.characteristic as string, hexToBytes(e.line.hex as string));
        // The device's clock: the send time to the second, in China Standard Time.
        expect(decoded.ts).toBe(`${new Date(e.wallAt + 8 * HOUR).toISOString().slice(0, 19)}+08:00`);
        const r = e.reading;
        if (r.type === 'blood_pressure' && decoded.type === 'blood_pressure') {
          expect(decoded.unit).toBe(device.unit);
          const inUnit = (mmHg: number) => (device.unit === 'kPa' ? Math.round((mmHg / MMHG_PER_KPA) * 10) / 10 : mmHg);
          expect([decoded.systolic, decoded.diastolic, decoded.pulse]).toEqual([inUnit(r.systolic), inUnit(r.diastolic), r.pulse]);
          expect(decoded.map).toBe(inUnit(Math.round((r.systolic + 2 * r.diastolic) / 3)));
        } else if (r.type === 'glucose' && decoded.type === 'glucose') {
          expect(decoded.unit).toBe(device.unit);
          expect(decoded.value).toBe(device.unit === 'mg/dL' ? Math.round(r.value * MGDL_PER_MMOLL) : r.value);
        } else throw new Error(`unexpected frame for ${r.type}`);
        // …and through the gateway, in stored units, within the device's rounding.
        const stored = throughGateway(e.line, home, e.wallAt + 300);
        const expected = r.type === 'glucose' ? r.value : (r as { systolic: number }).systolic;
        expect(Math.abs((stored.values[r.type === 'glucose' ? 'value' : 'systolic'] as number) - expected)).toBeLessThan(r.type === 'glucose' ? 0.03 : 0.4);
      }
    }
    expect(frames).toBeGreaterThan(20);
  });

  it('uses both transports and all four units across the district', () => {
    const seen = new Set<string>();
    for (const { home, events } of all) {
      for (const e of events.filter((x) => x.reading.type === 'blood_pressure' || x.reading.type === 'glucose')) {
        const stored = throughGateway(e.line, home, e.wallAt + 300);
        const unit = stored.values.sourceUnit ?? (stored.type === 'glucose' ? 'mmol/L' : 'mmHg');
        seen.add(`${'hex' in e.line ? 'ble' : 'json'} ${unit}`);
      }
    }
    for (const u of ['ble mmHg', 'json mmHg', 'json kPa', 'ble mmol/L', 'json mmol/L', 'ble mg/dL']) expect(seen).toContain(u);
  });
});

describe('devices', () => {
  const home = homes[0]!;
  const events = lines(run(home, 'hb', 1));

  it('every device is heard within 10 s, then every heartbeatSeconds, its battery slowly draining', () => {
    for (const device of home.devices) {
      const beats = events.filter((e) => e.line.device === device.id && e.reading.type === 'heartbeat');
      expect(beats[0]!.wallAt - WALL).toBeLessThanOrEqual(10_000);
      for (let i = 1; i < beats.length; i++) expect(beats[i]!.wallAt - beats[i - 1]!.wallAt).toBe(device.heartbeatSeconds * 1000);
      const levels = beats.map((b) => b.line.battery as number);
      expect(levels.every((l, i) => i === 0 || l <= levels[i - 1]!)).toBe(true);
      expect(beats.every((b) => (b.line.rssi as number) <= -40 && (b.line.rssi as number) >= -90)).toBe(true);
    }
  });

  it('motion follows the time of day: busy in the daytime, a bathroom visit at night', () => {
    const motion = lines(run(home, 'motion', 14, { scale: 3600 })).filter((e) => e.reading.type === 'motion');
    const day = motion.filter((e) => localMinutes(e.at) >= 7 * 60 && localMinutes(e.at) < 22 * 60).length;
    const night = motion.filter((e) => localMinutes(e.at) < 5.5 * 60).length;
    expect(day / 14).toBeGreaterThan(20);
    expect(night / 14).toBeLessThan(2);
    expect(motion.filter((e) => localMinutes(e.at) < 5.5 * 60).every((e) => e.line.location === '卫生间')).toBe(true);
  });

  it('measurementsOnly gives only what a cuff or meter keeps in memory', () => {
    const memory = lines(run(homes[2]!, 'history', 7, { measurementsOnly: true, scale: 1 }));
    expect(memory.length).toBeGreaterThan(10);
    expect(new Set(memory.map((e) => e.reading.type))).toEqual(new Set(['blood_pressure', 'glucose']));
  });
});

describe('profiles', () => {
  // Four weeks of the whole district, fast: only measurements.
  const month = homes.flatMap((home) => lines(run(home, 'profiles', 28, { scale: 3600, measurementsOnly: true })).map((e) => ({ e, home })));
  const of = (profile: string, type: string) => month.filter(({ e, home }) => e.reading.type === type
    && home.residents.find((r) => r.id === e.residentId)?.profiles.includes(profile as never));

  it('hypertensive: cuff at 07:00–09:00 and around 19:00, systolic mostly 135–165, higher in the morning', () => {
    const bp = of('hypertensive', 'blood_pressure').map(({ e }) => ({ at: localMinutes(e.at) / 60, sys: (e.reading as { systolic: number }).systolic }));
    expect(bp.length).toBeGreaterThan(100);
    const morning = bp.filter((b) => b.at >= 7 && b.at < 9.2);
    const evening = bp.filter((b) => b.at >= 18.5 && b.at < 19.8);
    expect(morning.length + evening.length).toBeGreaterThan(bp.length * 0.9);
    expect(bp.filter((b) => b.sys >= 135 && b.sys <= 165).length).toBeGreaterThan(bp.length * 0.75);
    const mean = (xs: Array<{ sys: number }>) => xs.reduce((s, x) => s + x.sys, 0) / xs.length;
    expect(mean(morning)).toBeGreaterThan(mean(evening) + 5);
    expect(bp.every((b) => b.sys < 180)).toBe(true);
  });

  it('diabetic: fasting before breakfast, after meals higher, the odd low', () => {
    const glucose = of('diabetic', 'glucose').map(({ e }) => e.reading as { value: number; context: string });
    const contexts = new Set(glucose.map((g) => g.context));
    for (const c of ['fasting', 'before_meal', 'after_meal', 'bedtime']) expect(contexts).toContain(c);
    const mean = (c: string) => glucose.filter((g) => g.context === c).reduce((s, g, _i, xs) => s + g.value / xs.length, 0);
    expect(mean('after_meal')).toBeGreaterThan(mean('fasting') + 1.5);
    expect(glucose.every((g) => g.value >= 3 && g.value < 20)).toBe(true);
    expect(glucose.filter((g) => g.value < 3.9).length).toBeGreaterThan(0);
    expect(glucose.filter((g) => g.value < 3.9).length).toBeLessThan(glucose.length * 0.05);
  });

  it('frail: low blood pressure on standing now and then, falls rare and mostly got up from', () => {
    const lows = of('frail', 'blood_pressure').filter(({ e }) => (e.reading as { systolic: number }).systolic < 90);
    expect(lows.length).toBeGreaterThan(0);
    const falls = homes.flatMap((home) => lines(run(home, 'falls', 60, { scale: 3600 }))).filter((e) => e.reading.type === 'fall');
    const frail = homes.flatMap((h) => h.residents).filter((r) => r.profiles.includes('frail')).length;
    expect(falls.length).toBeGreaterThan(0);
    expect(falls.length).toBeLessThan(frail * 60 * 0.1);
  });
});

it('never stamps a reading ahead of its send time, and sends in time order', () => {
  for (const home of homes.slice(0, 3)) {
    const events = run(home, 'order', 1, { chunks: 40 });
    expect(events.every((e, i) => i === 0 || e.at >= events[i - 1]!.at)).toBe(true);
    expect(events.every((e) => e.wallAt <= WALL + DAY / 60 + HOUR)).toBe(true);
  }
});

/**
 * Every device definition at once (STYLE.md: adding a device is adding one
 * definition; this test checks it): identity, vocabulary, units, ranges,
 * labels, heartbeat, and every example through converter, clock rules and
 * the hub's own validation.
 */
import { describe, expect, it } from 'vitest';
import { applyDeviceClock } from '../../devices/deviceClock.js';
import { DEVICE_TYPES, DEVICE_TYPE_DEFINITIONS, isDeviceType } from '../../devices/deviceTypes.js';
import { gattCharacteristic } from '../../devices/gatt/index.js';
import { READING_TYPES } from '../../devices/readingSchema.js';
import { GLUCOSE_UNITS, PRESSURE_UNITS } from '../../devices/units.js';
import { RANGES, validateReading } from '../../devices/validateReading.js';

const NOW = Date.parse('2024-06-01T12:00:00Z');
const definitions = Object.entries(DEVICE_TYPE_DEFINITIONS);
const UNITS: Partial<Record<string, readonly string[]>> = { blood_pressure: PRESSURE_UNITS, glucose: GLUCOSE_UNITS };
const CJK = /[\u4e00-\u9fff]/;

it('lists each device type once, keyed by its own type', () => {
  expect(Object.keys(DEVICE_TYPE_DEFINITIONS)).toEqual([...DEVICE_TYPES]);
  expect(new Set(DEVICE_TYPES).size).toBe(DEVICE_TYPES.length);
  for (const [key, d] of definitions) expect(d.type).toBe(key);
  expect(DEVICE_TYPES.every(isDeviceType)).toBe(true);
  expect(isDeviceType('toaster')).toBe(false);
});

describe.each(definitions)('%s', (_type, d) => {
  it('measures only known reading types, heartbeat included, each once', () => {
    expect(d.measures.length).toBeGreaterThan(0);
    for (const m of d.measures) expect(READING_TYPES).toContain(m);
    expect(new Set(d.measures).size).toBe(d.measures.length);
    expect(d.measures).toContain('heartbeat');
  });

  it('accepts exactly the SPEC §3 units of what it measures', () => {
    for (const [type, units] of Object.entries(d.units)) {
      expect(d.measures).toContain(type);
      expect(units).toEqual(UNITS[type]);
    }
    for (const m of d.measures) if (UNITS[m]) expect(d.units[m]).toBeDefined();
  });

  it('states its plausible ranges as the hub checks them', () => {
    for (const [name, range] of Object.entries(d.ranges)) expect(range).toEqual(RANGES[name as keyof typeof RANGES]);
    if (d.measures.includes('blood_pressure')) expect(Object.keys(d.ranges).sort()).toEqual(['diastolic', 'map', 'pulse', 'systolic']);
    if (d.measures.includes('glucose')) expect(Object.keys(d.ranges)).toEqual(['glucose']);
  });

  it('has a label in both languages', () => {
    expect(d.label['zh-CN']).toMatch(CJK);
    expect(d.label.en).toMatch(/^[A-Z][\w -]+$/);
  });

  it('has a sane heartbeat (an integer the import accepts, 30 s – 1 day)', () => {
    expect(Number.isInteger(d.heartbeatSeconds)).toBe(true);
    expect(d.heartbeatSeconds).toBeGreaterThanOrEqual(30);
    expect(d.heartbeatSeconds).toBeLessThanOrEqual(86_400);
  });

  it('speaks a GATT characteristic or a zigbee2mqtt vocabulary, whose readings it measures', () => {
    expect(Boolean(d.gatt?.length) || Boolean(d.z2m)).toBe(true);
    for (const c of d.gatt ?? []) expect(gattCharacteristic(c)).toBe(c);
    for (const t of d.z2m?.triggers ?? []) {
      expect(d.measures).toContain(t.reading);
      expect(t.active.length).toBeGreaterThan(0);
      expect(t.active.filter((v) => t.normal.includes(v))).toEqual([]);
      expect(t.source).not.toBe('');
    }
  });

  it('has examples that cover every reading type it measures but heartbeat', () => {
    expect(d.examples.length).toBeGreaterThan(0);
    const produced = new Set(d.examples.flatMap((e) => e.expected.map((r) => r.type)));
    for (const m of d.measures) if (m !== 'heartbeat') expect(produced).toContain(m);
  });

  it.each(d.examples.map((e) => [e.name, e] as const))('example "%s" converts as expected and passes the hub', (_name, example) => {
    expect(example.source).not.toBe('');
    const readings = d.convert(example.input);
    expect(readings).toEqual(example.expected);
    readings.forEach((draft, i) => {
      expect(d.measures).toContain(draft.type);
      const reading = { ...applyDeviceClock(draft, NOW), id: `example-${i}` };
      const outcome = validateReading(reading, { homeId: 'h1', deviceId: 'd1' }, NOW);
      expect(outcome.ok ? null : outcome.refusal).toBeNull();
    });
  });

  it('refuses an input kind it does not speak', () => {
    if (!d.z2m) expect(() => d.convert({ kind: 'z2m', state: { fall_detected: true } })).toThrow(/no zigbee2mqtt vocabulary/);
    if (!d.gatt) expect(() => d.convert({ kind: 'gatt', characteristic: '2A35', hex: '00' })).toThrow(/does not send characteristic 2A35/);
    for (const other of ['2A35', '2A18'].filter((c) => d.gatt && !d.gatt.includes(c as never))) {
      expect(() => d.convert({ kind: 'gatt', characteristic: other, hex: '00' })).toThrow(`does not send characteristic ${other}`);
    }
  });
});

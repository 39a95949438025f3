/**
 * Every named scenario, in every demo home that can play it (Bluetooth and
 * JSON, mmHg and kPa, mmol/L and mg/dL, a couple's shared cuff), raises the
 * alert it is written for when its readings go through the gateway's steps
 * and the default rules (SPEC §4).
 */
import { describe, expect, it } from 'vitest';
import { buildDemoDistrict } from '../../../devices/simulators/demoDistrict.js';
import { HomeSimulator, type SimEvent, type SimLineEvent } from '../../../devices/simulators/homeSimulator.js';
import { canRun, SCENARIO_ALERTS, SCENARIO_NAMES, scenarioResident, type ScenarioName } from '../../../devices/simulators/scenarios.js';
import { MINUTE, SimClock } from '../../../devices/simulators/simClock.js';
import { SEVERITY_RANK } from '../../../server/rules/types.js';
import { ruleFor, throughGateway } from './throughGateway.js';

const WALL = Date.parse('2025-03-11T03:00:00+08:00');
const homes = buildDemoDistrict('scenarios', 12).homes.map((h) => h.layout);
const TRIGGER = WALL + 20_000;

function play(name: ScenarioName, homeIndex: number, scale = 60, options = {}): { events: SimEvent[]; sim: HomeSimulator } {
  const sim = new HomeSimulator(homes[homeIndex]!, { clock: new SimClock({ wallStart: WALL, scale }), seed: 'scenarios' });
  sim.schedule(name, TRIGGER, options);
  return { sim, events: sim.advance(sim.clock.toVirtual(TRIGGER + 30 * MINUTE)) };
}

const ofScenario = (events: SimEvent[]) => events.filter((e) => e.scenario !== undefined);

const cases = SCENARIO_NAMES.filter((n) => SCENARIO_ALERTS[n] !== null).flatMap((name) =>
  homes.map((h, i) => [name, h.homeId, i] as const).filter(([, , i]) => canRun(homes[i]!, name)));

describe.each(cases)('%s in %s', (name, _homeId, i) => {
  it(`raises ${SCENARIO_ALERTS[name]!.rule} (${SCENARIO_ALERTS[name]!.severity}) for the right resident, on time`, () => {
    const steps = ofScenario(play(name, i).events) as SimLineEvent[];
    expect(steps.length).toBeGreaterThan(0);
    expect(steps[0]!.wallAt).toBe(TRIGGER);
    const matches = steps.map((e) => ruleFor(throughGateway(e.line, homes[i]!, e.wallAt + 500)));
    const expected = SCENARIO_ALERTS[name]!;
    const worst = matches.filter((m) => m !== null).sort((a, b) => SEVERITY_RANK[b!.severity] - SEVERITY_RANK[a!.severity])[0];
    expect({ rule: worst?.rule, severity: worst?.severity }).toEqual(expected);
    // Exactly the steps marked `raises` raise it: the alert comes when the incident happens, not before.
    steps.forEach((step, k) => {
      const raised = matches[k]?.rule === expected.rule && matches[k]?.severity === expected.severity;
      expect(raised).toBe(step.raises === true);
    });
    expect(steps.some((e) => e.raises)).toBe(true);
    if (name !== 'battery_dying') {
      // A couple's fall radar cannot tell who fell: a home-level alert (residentId null), as SPEC §6 allows.
      const stored = throughGateway(steps[0]!.line, homes[i]!, steps[0]!.wallAt + 500);
      const shared = homes[i]!.devices.find((d) => d.id === steps[0]!.line.device)!.residentId === undefined && name.startsWith('fall');
      expect(stored.residentId).toBe(shared ? null : scenarioResident(homes[i]!, name).id);
    }
  });
});

describe('scenario details', () => {
  it('hypertensive crisis: 186/112, then re-measured 5 minutes later at 178/108', () => {
    const steps = ofScenario(play('hypertensive_crisis', 0).events) as SimLineEvent[];
    expect(steps.map((s) => [s.wallAt - TRIGGER, s.reading])).toEqual([
      [0, expect.objectContaining({ systolic: 186, diastolic: 112 })],
      [5 * MINUTE, expect.objectContaining({ systolic: 178, diastolic: 108 })],
    ]);
    expect(steps[0]!.line).toMatchObject({ characteristic: '2A35' });
  });

  it('night hypoglycaemia from a mg/dL Bluetooth meter: 49 mg/dL at 03:00, a severe low', () => {
    const home = homes.findIndex((h) => h.devices.some((d) => d.type === 'glucose_meter' && d.unit === 'mg/dL' && d.transport === 'ble'));
    const [low] = ofScenario(play('night_hypoglycaemia', home).events) as SimLineEvent[];
    const stored = throughGateway(low!.line, homes[home]!, low!.wallAt + 500);
    expect(stored.values).toMatchObject({ sourceUnit: 'mg/dL' });
    expect(stored.values.value).toBeCloseTo(2.72, 2);
    expect(new Date(stored.ts + 8 * 3600_000).toISOString().slice(11, 16)).toBe('03:00');
    expect(ruleFor(stored)).toMatchObject({ rule: 'glucose_severe_low', severity: 'critical' });
  });

  it('a fall not got up from leaves the home still: no motion for 20 minutes', () => {
    const { events } = play('fall_not_getting_up', 1, 1);
    const motion = events.filter((e) => e.kind === 'line' && e.reading.type === 'motion' && e.wallAt > TRIGGER);
    expect(motion.every((e) => e.wallAt >= TRIGGER + 20 * MINUTE)).toBe(true);
  });

  it('a fall got up from is followed by motion', () => {
    const steps = ofScenario(play('fall_got_up', 3).events) as SimLineEvent[];
    expect(steps.map((s) => s.reading.type)).toEqual(['fall', 'motion']);
    expect(steps[0]!.reading).toMatchObject({ recovered: true });
  });

  it('a dying battery goes below 15 % and stays there', () => {
    const { events, sim } = play('battery_dying', 0);
    const steps = ofScenario(events) as SimLineEvent[];
    expect(steps.map((s) => s.line.battery)).toEqual([16, 14, 12]);
    const device = steps[0]!.line.device;
    const later = events.filter((e): e is SimLineEvent => e.kind === 'line' && e.line.device === device && e.wallAt > steps[2]!.wallAt);
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((e) => (e.line.battery as number) <= 12)).toBe(true);
    expect(sim.battery(device, sim.clock.toVirtual(TRIGGER + 10 * MINUTE))).toBeLessThan(15);
  });

  it('gateway network loss cuts the uplink for N minutes while the home goes on reporting', () => {
    const { events } = play('gateway_network_loss', 0, 60, { outageMinutes: 3 });
    const uplink = events.filter((e) => e.kind === 'uplink');
    expect(uplink.map((e) => [e.kind === 'uplink' && e.action, e.wallAt - TRIGGER])).toEqual([['cut', 0], ['restore', 3 * MINUTE]]);
    const during = events.filter((e) => e.kind === 'line' && e.wallAt > TRIGGER && e.wallAt < TRIGGER + 3 * MINUTE);
    expect(during.length).toBeGreaterThan(0);
    expect(SCENARIO_ALERTS.gateway_network_loss).toBeNull();
  });

  it('refuses a scenario the home cannot play', () => {
    const noMeter = homes.findIndex((h) => !h.devices.some((d) => d.type === 'glucose_meter'));
    const sim = new HomeSimulator(homes[noMeter]!, { clock: new SimClock({ wallStart: WALL }), seed: 's' });
    expect(() => sim.schedule('night_hypoglycaemia', TRIGGER)).toThrow(/cannot play/);
  });

  it('is deterministic: the same scenario twice gives the same lines', () => {
    expect(JSON.stringify(play('sos', 2).events)).toBe(JSON.stringify(play('sos', 2).events));
  });
});

/** The demo district and its timeline: what `npm run demo` enrols and when its incidents happen. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoDistrict, DEMO_DOCTORS, DEMO_OPERATORS, importDocument } from '../../../devices/simulators/demoDistrict.js';
import { planTimeline } from '../../../devices/simulators/demoTimeline.js';
import { canRun, SCENARIO_PROFILE } from '../../../devices/simulators/scenarios.js';
import { startTestHub, type TestHub } from '../../helpers/hub.js';

const district = buildDemoDistrict('anxin', 20);
const layouts = district.homes.map((h) => h.layout);

describe('district', () => {
  it('has Chinese residents in 威海市环翠区 with conditions, contacts and a family doctor', () => {
    const residents = district.homes.flatMap((h) => h.layout.residents.map((r) => ({ r, h })));
    expect(residents.length).toBeGreaterThanOrEqual(20);
    for (const { r, h } of residents) {
      expect(r.name).toMatch(/^[\u4e00-\u9fff]{2,3}$/);
      expect(r.profiles.length).toBeGreaterThan(0);
      expect(h.contacts[r.id]!.length).toBeGreaterThan(0);
      expect(DEMO_DOCTORS.map((d) => d.username)).toContain(h.doctors[r.id]);
    }
    for (const h of district.homes) expect(h.address).toMatch(/^威海市环翠区.+号/);
    for (const d of DEMO_DOCTORS) expect(residents.filter(({ r, h }) => h.doctors[r.id] === d.username).length).toBeGreaterThan(2);
    expect(district.users).toEqual([...DEMO_OPERATORS, ...DEMO_DOCTORS]);
  });

  it('uses unique ids, a gateway per home, and the device kit of a 家庭养老床位', () => {
    const ids = layouts.flatMap((h) => [h.homeId, h.gatewayId, ...h.residents.map((r) => r.id), ...h.devices.map((d) => d.id)]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const h of layouts) {
      for (const type of ['bp_cuff', 'fall_sensor', 'sos_button', 'motion_sensor']) expect(h.devices.some((d) => d.type === type)).toBe(true);
      const diabetics = h.residents.filter((r) => r.profiles.includes('diabetic'));
      expect(h.devices.filter((d) => d.type === 'glucose_meter').map((d) => d.residentId)).toEqual(diabetics.map((r) => r.id));
    }
    expect(layouts.some((h) => h.residents.length === 2)).toBe(true);
  });

  it('refuses an impossible size', () => {
    expect(() => buildDemoDistrict('x', 0)).toThrow(RangeError);
    expect(() => buildDemoDistrict('x', 1.5)).toThrow(RangeError);
  });
});

describe('import through the real hub', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(async () => {
    await hub?.destroy();
  });

  it('is accepted whole: a secret for every gateway and device, a password for every user; a re-import changes nothing', async () => {
    const doc = importDocument(district);
    const answer = await hub.importDoc(doc);
    const issued = new Set(answer.credentials.map((c) => c.username));
    for (const h of layouts) {
      expect(issued).toContain(h.gatewayId);
      for (const d of h.devices) expect(issued).toContain(d.id);
    }
    expect(answer.users.map((u) => u.username).sort()).toEqual(district.users.map((u) => u.username).sort());
    const again = await hub.importDoc(doc);
    expect(again.credentials).toEqual([]);
    expect(again.users).toEqual([]);
  });
});

describe('timeline', () => {
  it.each([1, 3, 5, 20])('with %i home(s): a crisis at 20 s, a fall at 35 s, an SOS at 50 s, each in a home that can play it', (n) => {
    const homes = layouts.slice(0, n);
    const timeline = planTimeline(homes, 'anxin', { durationSeconds: 3600 });
    expect(timeline.slice(0, 3).map((t) => [t.atSeconds, t.scenario])).toEqual([[20, 'hypertensive_crisis'], [35, 'fall_not_getting_up'], [50, 'sos']]);
    for (const t of timeline) expect(canRun(homes.find((h) => h.homeId === t.homeId)!, t.scenario)).toBe(true);
    const loss = timeline.find((t) => t.scenario === 'gateway_network_loss');
    expect(loss?.options).toEqual({ outageMinutes: 2 });
  });

  it('puts each incident where its profile lives, and every opening incident in a different home when there are enough', () => {
    const timeline = planTimeline(layouts, 'anxin', { durationSeconds: 200 });
    expect(timeline).toHaveLength(7);
    expect(new Set(timeline.map((t) => t.homeId)).size).toBe(7);
    for (const t of timeline) {
      const profile = SCENARIO_PROFILE[t.scenario];
      if (profile) expect(layouts.find((h) => h.homeId === t.homeId)!.residents.some((r) => r.profiles.includes(profile))).toBe(true);
    }
  });

  it('plans only what fits the duration, then an incident about every 5 minutes', () => {
    expect(planTimeline(layouts, 'anxin', { durationSeconds: 70 }).map((t) => t.atSeconds)).toEqual([20, 35, 50, 65]);
    const hour = planTimeline(layouts, 'anxin', { durationSeconds: 3600 });
    const encores = hour.slice(7);
    expect(encores.length).toBeGreaterThanOrEqual(9);
    expect(encores.every((t) => t.atSeconds <= 3600 + 30)).toBe(true);
    expect(planTimeline(layouts, 'anxin', { durationSeconds: 3600 })).toEqual(hour);
  });
});

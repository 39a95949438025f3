/**
 * A resident's day, by profile, in local time (Asia/Shanghai). Values are in
 * stored units (mmHg, mmol/L); the home simulator renders them in each
 * device's own unit and form. Patterns follow what home monitoring of older
 * people shows: a morning blood-pressure surge in hypertension, fasting and
 * post-prandial glucose in type 2 diabetes with the odd nocturnal low, and
 * orthostatic hypotension and falls in frailty.
 */
import type { DeviceType, ReadingDraft } from '../deviceTypes.js';
import type { HomeLayout, SimResident } from './homeLayout.js';
import type { Rng } from './prng.js';
import { MINUTE } from './simClock.js';

/** One thing a resident or their home does, at a virtual time. */
export interface PlannedEvent {
  at: number;
  /** The kind of device that reports it; skipped when the home has none. */
  device: DeviceType;
  residentId?: string;
  draft: ReadingDraft;
  /** A short description for the demo's console, for events worth telling. */
  note?: string;
}

/** A resident's own numbers, drawn once per resident from the seed. */
export interface Physiology {
  systolic: number;
  diastolic: number;
  pulse: number;
  /** Mean fasting glucose, mmol/L. */
  fasting: number;
  /** Chance of taking each scheduled measurement. */
  adherence: number;
}

export function physiologyOf(resident: SimResident, rng: Rng): Physiology {
  const hypertensive = resident.profiles.includes('hypertensive');
  return {
    systolic: hypertensive ? rng.normal(143, 5, 135, 152) : rng.normal(118, 6, 106, 128),
    diastolic: hypertensive ? rng.normal(85, 4, 78, 93) : rng.normal(70, 4, 62, 78),
    pulse: rng.normal(72, 6, 58, 86),
    fasting: rng.normal(6.9, 0.6, 5.8, 8.2),
    adherence: rng.between(0.82, 0.98),
  };
}

const round1 = (v: number) => Math.round(v * 10) / 10;
const minutes = (midnight: number, from: number, to: number, rng: Rng) => midnight + rng.between(from, to) * MINUTE;

function bp(systolic: number, diastolic: number, pulse: number, irregular = false): ReadingDraft {
  const sys = Math.round(systolic);
  // Keep a physiological pulse pressure: diastolic at least 25 below systolic.
  const dia = Math.min(Math.round(diastolic), sys - 25);
  return { type: 'blood_pressure', systolic: sys, diastolic: dia, pulse: Math.round(pulse), unit: 'mmHg', ...(irregular && { irregularPulse: true }) };
}

/** Blood pressure: hypertensive twice a day with a morning surge; frail once, sometimes low on standing. */
function planBloodPressure(r: SimResident, p: Physiology, midnight: number, rng: Rng): PlannedEvent[] {
  const out: PlannedEvent[] = [];
  const frail = r.profiles.includes('frail');
  const add = (at: number, draft: ReadingDraft, note?: string) => out.push({ at, device: 'bp_cuff', residentId: r.id, draft, ...(note && { note }) });
  if (r.profiles.includes('hypertensive')) {
    if (rng.chance(p.adherence)) {
      // Morning surge: the highest readings of the day come in the two hours after waking.
      const at = minutes(midnight, 7 * 60, 9 * 60, rng);
      const surge = rng.normal(12, 4, 4, 20);
      const sys = rng.normal(p.systolic + surge, 6, 122, 176);
      add(at, bp(sys, rng.normal(p.diastolic + surge * 0.4, 4, 62, 104), rng.normal(p.pulse + 4, 4, 52, 104), rng.chance(0.03)));
      if (rng.chance(0.12)) {
        // A second reading after a few minutes' rest, a little lower (home-monitoring guidance: two readings).
        add(at + rng.between(2, 6) * MINUTE, bp(sys - rng.between(2, 8), rng.normal(p.diastolic + surge * 0.3, 3, 62, 102), rng.normal(p.pulse, 4, 52, 100)));
      }
    }
    if (rng.chance(p.adherence - 0.1)) {
      const at = minutes(midnight, 18.5 * 60, 19.75 * 60, rng);
      add(at, bp(rng.normal(p.systolic - 3, 6, 120, 172), rng.normal(p.diastolic - 2, 4, 60, 100), rng.normal(p.pulse, 4, 52, 100)));
    }
  } else if (frail && rng.chance(p.adherence)) {
    add(minutes(midnight, 8 * 60, 10 * 60, rng), bp(rng.normal(p.systolic, 6, 96, 138), rng.normal(p.diastolic, 4, 56, 86), rng.normal(p.pulse, 5, 52, 100)));
  }
  if (frail && rng.chance(r.profiles.includes('hypertensive') ? 0.05 : 0.1)) {
    // Orthostatic hypotension: measured just after getting up from bed.
    const at = minutes(midnight, 6.5 * 60, 7.5 * 60, rng);
    add(at, bp(rng.between(82, 89.5), rng.between(50, 58), rng.normal(p.pulse + 10, 4, 60, 110)), 'low blood pressure on standing');
  }
  return out;
}

/** Glucose for a diabetic: fasting daily, other slots sometimes, a rare night low or post-meal spike. */
function planGlucose(r: SimResident, p: Physiology, midnight: number, rng: Rng): PlannedEvent[] {
  const out: PlannedEvent[] = [];
  const add = (at: number, value: number, context: 'fasting' | 'before_meal' | 'after_meal' | 'bedtime' | 'random', note?: string) =>
    out.push({ at, device: 'glucose_meter', residentId: r.id, draft: { type: 'glucose', value: round1(value), unit: 'mmol/L', context }, ...(note && { note }) });
  if (rng.chance(0.03)) add(minutes(midnight, 2.5 * 60, 3.5 * 60, rng), rng.between(3.2, 3.85), 'random', 'night-time low glucose');
  if (rng.chance(p.adherence)) add(minutes(midnight, 6.5 * 60, 7.5 * 60, rng), rng.normal(p.fasting, 0.7, 4.4, 10.5), 'fasting');
  if (rng.chance(0.4)) add(minutes(midnight, 11 * 60, 11.7 * 60, rng), rng.normal(p.fasting - 0.5, 0.8, 4.2, 10), 'before_meal');
  if (rng.chance(0.5)) {
    const spike = rng.chance(0.03);
    add(minutes(midnight, 13 * 60, 13.75 * 60, rng), spike ? rng.between(17, 18.8) : rng.normal(p.fasting + 3, 1.6, 6.5, 15.5), 'after_meal', spike ? 'high glucose after lunch' : undefined);
  }
  if (rng.chance(0.6)) add(minutes(midnight, 19.5 * 60, 20.25 * 60, rng), rng.normal(p.fasting + 2.6, 1.6, 6.5, 15.5), 'after_meal');
  if (rng.chance(0.3)) add(minutes(midnight, 21.5 * 60, 22 * 60, rng), rng.normal(p.fasting + 0.6, 0.9, 5, 11), 'bedtime');
  return out;
}

/** What one resident measures on the day starting at local `midnight`. */
export function planResidentDay(r: SimResident, p: Physiology, midnight: number, rng: Rng): PlannedEvent[] {
  return [
    ...planBloodPressure(r, p, midnight, rng.fork('bp')),
    ...(r.profiles.includes('diabetic') ? planGlucose(r, p, midnight, rng.fork('glucose')) : []),
  ];
}

const ROOMS = [['客厅', 0.4], ['厨房', 0.25], ['卧室', 0.2], ['卫生间', 0.15]] as const;

function room(rng: Rng): string {
  let x = rng.float();
  for (const [name, weight] of ROOMS) if ((x -= weight) < 0) return name;
  return '客厅';
}

/**
 * The home's own events on one day: motion through the day (less in a home
 * where everyone is frail), a night-time bathroom visit or two, and for frail
 * residents the rare fall (mostly getting up by themselves) or SOS press.
 * Only a home's events that do not depend on a measurement device.
 */
export function planHomeDay(home: HomeLayout, midnight: number, rng: Rng): PlannedEvent[] {
  const out: PlannedEvent[] = [];
  const motion = (at: number, location: string) => out.push({ at, device: 'motion_sensor', draft: { type: 'motion', location } });
  const allFrail = home.residents.every((r) => r.profiles.includes('frail'));
  const night = rng.int(0, 2);
  for (let i = 0; i < night; i++) motion(minutes(midnight, 60, 5.5 * 60, rng), '卫生间');
  motion(minutes(midnight, 6 * 60, 6.75 * 60, rng), '卧室');
  const gap = allFrail ? 45 : 25;
  for (let t = 7 * 60 + rng.between(0, gap); t < 22 * 60; t += rng.between(gap * 0.3, gap * 1.7)) motion(midnight + t * MINUTE, room(rng));
  for (const r of home.residents) {
    if (!r.profiles.includes('frail')) continue;
    const fr = rng.fork(`falls/${r.id}`);
    if (fr.chance(0.03)) {
      const atNight = fr.chance(0.4);
      const at = atNight ? minutes(midnight, 30, 5.5 * 60, fr) : minutes(midnight, 7 * 60, 21.5 * 60, fr);
      const location = atNight ? '卫生间' : room(fr);
      const recovered = fr.chance(0.7);
      out.push({
        at, device: 'fall_sensor', residentId: r.id,
        draft: { type: 'fall', confidence: Math.round(fr.between(0.75, 0.97) * 100) / 100, location, ...(recovered && { recovered: true }) },
        note: recovered ? `fall in ${location}, got up` : `fall in ${location}`,
      });
      if (recovered) motion(at + fr.between(1, 4) * MINUTE, location);
    }
    if (fr.chance(0.01)) out.push({ at: minutes(midnight, 8 * 60, 21 * 60, fr), device: 'sos_button', residentId: r.id, draft: { type: 'sos' }, note: 'SOS pressed' });
  }
  return out;
}

/**
 * When the demo's incidents happen, so that someone who has just opened the
 * dashboard sees the call-center queue come alive within a minute: a
 * hypertensive crisis at 20 s, a fall at 35 s, an SOS at 50 s, then a night
 * low, a dying pendant battery and a home losing its internet, and after that
 * a random incident every few minutes on top of the (compressed) daily life.
 */
import type { HomeLayout } from './homeLayout.js';
import { Rng } from './prng.js';
import { canRun, SCENARIO_PROFILE, type ScenarioName, type ScenarioOptions } from './scenarios.js';

export interface TimelineEntry {
  /** Seconds after the simulators start. */
  atSeconds: number;
  scenario: ScenarioName;
  homeId: string;
  options?: ScenarioOptions;
}

/** The opening incidents, each with the demo home (1-based) written for it. */
export const OPENING: ReadonlyArray<{ atSeconds: number; scenario: ScenarioName; home: number }> = [
  { atSeconds: 20, scenario: 'hypertensive_crisis', home: 1 },
  { atSeconds: 35, scenario: 'fall_not_getting_up', home: 2 },
  { atSeconds: 50, scenario: 'sos', home: 3 },
  { atSeconds: 65, scenario: 'night_hypoglycaemia', home: 5 },
  { atSeconds: 80, scenario: 'battery_dying', home: 6 },
  { atSeconds: 90, scenario: 'gateway_network_loss', home: 7 },
  { atSeconds: 150, scenario: 'fall_got_up', home: 4 },
];

const ENCORES: readonly ScenarioName[] = ['hypertensive_crisis', 'fall_got_up', 'fall_not_getting_up', 'sos', 'night_hypoglycaemia'];

export interface TimelineOptions {
  /** Seconds the demo runs; encores are planned up to it (default 12 hours). */
  durationSeconds?: number;
  /** Seconds between encores after the opening; default 300. */
  encoreEverySeconds?: number;
  outageMinutes?: number;
}

/**
 * The demo's incidents for these homes. An opening incident whose home does
 * not exist (fewer homes) or cannot play it goes to the next home that can.
 */
export function planTimeline(homes: readonly HomeLayout[], seed: string, options: TimelineOptions = {}): TimelineEntry[] {
  if (homes.length === 0) return [];
  const withOptions = (scenario: ScenarioName) => (scenario === 'gateway_network_loss' ? { options: { outageMinutes: options.outageMinutes ?? 2 } } : {});
  const entries: TimelineEntry[] = [];
  const until = options.durationSeconds ?? 12 * 3600;
  for (const o of OPENING) {
    if (o.atSeconds > until) continue;
    const home = firstAble(homes, o.home - 1, o.scenario);
    if (home) entries.push({ atSeconds: o.atSeconds, scenario: o.scenario, homeId: home.homeId, ...withOptions(o.scenario) });
  }
  const rng = new Rng(seed).fork('timeline');
  const every = options.encoreEverySeconds ?? 300;
  const start = Math.max(...OPENING.map((o) => o.atSeconds)) + every;
  for (let at = start; at <= until; at += every) {
    const scenario = rng.pick(ENCORES);
    const home = firstAble(homes, rng.int(0, homes.length - 1), scenario);
    if (home) entries.push({ atSeconds: Math.round(at + rng.between(-30, 30)), scenario, homeId: home.homeId });
  }
  return entries;
}

/** From home `from` on, the first home with a resident of the scenario's profile, else the first that can play it at all. */
function firstAble(homes: readonly HomeLayout[], from: number, scenario: ScenarioName): HomeLayout | undefined {
  const ordered = homes.map((_, i) => homes[(from + i) % homes.length]!).filter((h) => canRun(h, scenario));
  const profile = SCENARIO_PROFILE[scenario];
  return ordered.find((h) => profile === undefined || h.residents.some((r) => r.profiles.includes(profile))) ?? ordered[0];
}

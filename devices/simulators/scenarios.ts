/**
 * Named incidents, each a short script of what the home's devices report and
 * when, written to trigger one rule of SPEC §4 for real. Step times are wall
 * time after the trigger (an incident unfolds in real time even when the
 * simulated day runs fast): "re-measure after 5 minutes' rest" is 5 real minutes.
 */
import type { DeviceType, ReadingDraft } from '../deviceTypes.js';
import { deviceOfType, residentWith, type HomeLayout, type Profile, type SimResident } from './homeLayout.js';
import { MINUTE } from './simClock.js';

export const SCENARIO_NAMES = [
  'hypertensive_crisis', 'night_hypoglycaemia', 'fall_not_getting_up', 'fall_got_up', 'sos', 'battery_dying', 'gateway_network_loss',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}

/** The alert each scenario is written to raise with the default rules (SPEC §4); null: none (an outage of minutes). */
export const SCENARIO_ALERTS: Record<ScenarioName, { rule: string; severity: string } | null> = {
  hypertensive_crisis: { rule: 'bp_crisis', severity: 'critical' },
  night_hypoglycaemia: { rule: 'glucose_severe_low', severity: 'critical' },
  fall_not_getting_up: { rule: 'fall', severity: 'critical' },
  fall_got_up: { rule: 'fall', severity: 'urgent' },
  sos: { rule: 'sos', severity: 'critical' },
  battery_dying: { rule: 'battery_low', severity: 'info' },
  // gateway_offline needs 10 minutes of silence; a 2-minute outage shows the gateway offline and its backlog, no alert.
  gateway_network_loss: null,
};

/** One step: a reading from a kind of device, and/or a change to the home's state. */
export interface ScenarioStep {
  /** Wall milliseconds after the trigger. */
  afterMs: number;
  /** What it means, for the demo's console. */
  note: string;
  /** This step's reading raises the scenario's alert (SCENARIO_ALERTS). */
  raises?: true;
  reading?: { device: DeviceType; residentId?: string; draft: ReadingDraft };
  /** The device's battery from now on (percent). */
  battery?: number;
  /** No motion is reported from the home for this long (wall ms): someone is lying on the floor. */
  quietMs?: number;
  /** The gateway's uplink to the hub. */
  uplink?: 'cut' | 'restore';
}

export interface ScenarioOptions {
  /** gateway_network_loss: how long the uplink is cut; default 2. */
  outageMinutes?: number;
}

/** The profile a scenario belongs to, when it has one. */
export const SCENARIO_PROFILE: Partial<Record<ScenarioName, Profile>> = {
  hypertensive_crisis: 'hypertensive', night_hypoglycaemia: 'diabetic', fall_not_getting_up: 'frail', fall_got_up: 'frail',
};

/** Who an incident happens to: the first resident with the profile it needs, else the first resident. */
export function scenarioResident(home: HomeLayout, name: ScenarioName): SimResident {
  const profile = SCENARIO_PROFILE[name];
  const resident = (profile && residentWith(home, profile)) ?? home.residents[0];
  if (!resident) throw new Error(`home ${home.homeId} has no resident`);
  return resident;
}

/** The kind of device a scenario needs in the home (none for an uplink outage). */
export const SCENARIO_DEVICE: Record<ScenarioName, DeviceType | null> = {
  hypertensive_crisis: 'bp_cuff', night_hypoglycaemia: 'glucose_meter', fall_not_getting_up: 'fall_sensor', fall_got_up: 'fall_sensor',
  sos: 'sos_button', battery_dying: 'sos_button', gateway_network_loss: null,
};

/** Whether `home` has what `name` needs (its device, bound to or shared with the resident). */
export function canRun(home: HomeLayout, name: ScenarioName): boolean {
  const type = SCENARIO_DEVICE[name];
  if (type === null) return true;
  if (name === 'battery_dying') return deviceOfType(home, type) !== undefined;
  return deviceOfType(home, type, scenarioResident(home, name).id) !== undefined;
}

/** The script of `name` in `home`. */
export function scenarioSteps(name: ScenarioName, home: HomeLayout, options: ScenarioOptions = {}): ScenarioStep[] {
  const r = scenarioResident(home, name).id;
  // null: a home-level reading (a motion sensor, a device's heartbeat), not about one resident.
  const reading = (device: DeviceType, draft: ReadingDraft, residentId: string | null = r) => ({ device, ...(residentId !== null && { residentId }), draft });
  switch (name) {
    case 'hypertensive_crisis':
      return [
        { afterMs: 0, note: 'blood pressure 186/112 mmHg', raises: true, reading: reading('bp_cuff', { type: 'blood_pressure', systolic: 186, diastolic: 112, pulse: 98, unit: 'mmHg' }) },
        { afterMs: 5 * MINUTE, note: 're-measured after 5 min rest: 178/108 mmHg', reading: reading('bp_cuff', { type: 'blood_pressure', systolic: 178, diastolic: 108, pulse: 92, unit: 'mmHg' }) },
      ];
    case 'night_hypoglycaemia':
      return [
        { afterMs: 0, note: 'glucose 2.7 mmol/L, a severe low', raises: true, reading: reading('glucose_meter', { type: 'glucose', value: 2.7, unit: 'mmol/L', context: 'random' }) },
        { afterMs: 15 * MINUTE, note: 're-measured 15 min after sugar: 4.8 mmol/L', reading: reading('glucose_meter', { type: 'glucose', value: 4.8, unit: 'mmol/L', context: 'random' }) },
      ];
    case 'fall_not_getting_up':
      return [{
        afterMs: 0, note: 'fall in the bathroom, not getting up', raises: true, quietMs: 20 * MINUTE,
        reading: reading('fall_sensor', { type: 'fall', confidence: 0.94, location: '卫生间' }),
      }];
    case 'fall_got_up':
      return [
        { afterMs: 0, note: 'fall in the living room, got up', raises: true, reading: reading('fall_sensor', { type: 'fall', confidence: 0.82, location: '客厅', recovered: true }) },
        { afterMs: MINUTE, note: 'moving about again', reading: reading('motion_sensor', { type: 'motion', location: '客厅' }, null) },
      ];
    case 'sos':
      return [{ afterMs: 0, note: 'SOS pendant pressed', raises: true, reading: reading('sos_button', { type: 'sos', location: '卧室' }) }];
    case 'battery_dying':
      return [16, 14, 12].map((battery, i) => ({
        afterMs: i * 30_000, note: `SOS pendant battery ${battery}%`, battery, ...(battery < 15 && { raises: true as const }), reading: reading('sos_button', { type: 'heartbeat', battery, rssi: -71 }, null),
      }));
    case 'gateway_network_loss': {
      const minutes = options.outageMinutes ?? 2;
      return [
        { afterMs: 0, note: `gateway uplink cut for ${minutes} min (readings wait in its outbox)`, uplink: 'cut' },
        { afterMs: minutes * MINUTE, note: 'gateway uplink restored (backlog sent)', uplink: 'restore' },
      ];
    }
  }
}

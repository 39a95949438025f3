/**
 * What a simulated home holds: its residents (with the behaviour profiles the
 * simulators give them) and its devices (with how each talks to the gateway).
 * The demo district turns the same layout into the import document (SPEC §6).
 */
import type { DeviceType } from '../deviceTypes.js';
import type { GlucoseUnit, PressureUnit } from '../units.js';

/**
 * Behaviour profiles: `hypertensive` (morning surge, cuff at 07:00–09:00 and
 * 19:00), `diabetic` (fasting, pre- and post-meal glucose, the odd night low),
 * `frail` (falls risk, low activity, low blood pressure on standing).
 */
export const PROFILES = ['hypertensive', 'diabetic', 'frail'] as const;
export type Profile = (typeof PROFILES)[number];

export interface SimResident {
  id: string;
  name: string;
  sex: 'F' | 'M';
  birthYear: number;
  profiles: readonly Profile[];
}

/**
 * `ble`: raw Bluetooth notifications (0x2A35, 0x2A18) on the gateway's JSON
 * lines; `json`: SPEC §3 readings with a `"device"` field (what a zigbee2mqtt
 * or vendor-cloud bridge produces).
 */
export type Transport = 'json' | 'ble';

export interface SimDevice {
  id: string;
  type: DeviceType;
  /** The resident it is bound to; a shared cuff has none and names the resident in each reading. */
  residentId?: string;
  transport: Transport;
  /** The unit its readings are in (cuffs and glucose meters). */
  unit?: PressureUnit | GlucoseUnit;
  heartbeatSeconds: number;
  /** Where it is installed (fall radars, motion sensors). */
  location?: string;
}

export interface HomeLayout {
  homeId: string;
  gatewayId: string;
  residents: readonly SimResident[];
  devices: readonly SimDevice[];
}

export function deviceOfType(home: HomeLayout, type: DeviceType, residentId?: string): SimDevice | undefined {
  const ofType = home.devices.filter((d) => d.type === type);
  return ofType.find((d) => residentId !== undefined && d.residentId === residentId)
    ?? ofType.find((d) => d.residentId === undefined)
    ?? (residentId === undefined ? ofType[0] : undefined);
}

export function residentWith(home: HomeLayout, profile: Profile): SimResident | undefined {
  return home.residents.find((r) => r.profiles.includes(profile));
}

/**
 * What a device definition is (STYLE.md, after zigbee-herdsman-converters):
 * plain data — what the device measures, in which units, within which ranges,
 * how often it is heard from, what it is called — plus one small pure
 * converter from its raw input to SPEC §3 reading payloads, with examples
 * that one test runs for every definition.
 */
import type { GLUCOSE_CONTEXTS, ReadingType } from '../readingSchema.js';
import type { GlucoseUnit, PressureUnit } from '../units.js';
import type { RANGES } from '../validateReading.js';

export const DEVICE_TYPES = ['bp_cuff', 'glucose_meter', 'fall_sensor', 'sos_button', 'motion_sensor'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

/**
 * A reading as a device or its converter produces it: a SPEC §3 payload
 * without `id` (the gateway numbers readings) and with `ts` only when the
 * device sent its own time (the gateway applies the clock rules of SPEC §8).
 */
interface Common { ts?: string; residentId?: string }
export interface BloodPressureDraft extends Common {
  type: 'blood_pressure';
  systolic: number;
  diastolic: number;
  map?: number;
  pulse?: number;
  unit: PressureUnit;
  irregularPulse?: boolean;
}
export interface GlucoseDraft extends Common {
  type: 'glucose';
  value: number;
  unit: GlucoseUnit;
  context?: (typeof GLUCOSE_CONTEXTS)[number];
}
export interface FallDraft extends Common { type: 'fall'; confidence?: number; location?: string; recovered?: boolean }
export interface SosDraft extends Common { type: 'sos'; location?: string }
export interface HeartbeatDraft extends Common { type: 'heartbeat'; battery?: number; rssi?: number }
export interface MotionDraft extends Common { type: 'motion'; location?: string }
export type ReadingDraft = BloodPressureDraft | GlucoseDraft | FallDraft | SosDraft | HeartbeatDraft | MotionDraft;

/** The GATT characteristics Anxin decodes (SPEC §8). */
export type GattCharacteristic = '2A35' | '2A18';

/** What reaches a converter. */
export type DeviceInput =
  /** A raw Bluetooth notification, as on the gateway's JSON lines (SPEC §8). */
  | { kind: 'gatt'; characteristic: string; hex: string }
  /** A zigbee2mqtt state message, with the one before it (undefined: the first one heard). */
  | { kind: 'z2m'; previous?: Record<string, unknown>; state: Record<string, unknown> };

/** A reading draft with whatever extras its decoder adds (`userId`, `sequenceNumber`…). */
export type ReadingDraftWithExtras = ReadingDraft & { [extra: string]: unknown };

export interface DeviceExample {
  /** What the example shows. */
  name: string;
  input: DeviceInput;
  expected: readonly ReadingDraftWithExtras[];
  /** Where the raw bytes or vocabulary come from (repository + path, or specification section). */
  source: string;
}

export type Z2mValue = string | number | boolean;

/** One zigbee2mqtt property that signals an event, e.g. `fall_down_status: fall`. */
export interface Z2mTrigger {
  property: string;
  reading: 'fall' | 'sos' | 'motion';
  /** Values meaning the event is happening (strings compare case-insensitively). */
  active: readonly Z2mValue[];
  /** Values meaning all is well; any other value (e.g. `maybe_fall`) is in between and raises nothing. */
  normal: readonly Z2mValue[];
  /**
   * Every message carrying an active value is a new event. For `action`,
   * which zigbee2mqtt publishes once per press and never keeps in its state
   * (Koenkk/zigbee2mqtt lib/state.ts `dontCacheProperties`), so two presses
   * arrive as two identical messages. Otherwise only a change into an active
   * value counts, because zigbee2mqtt republishes the whole state.
   */
  everyMessage?: boolean;
  /** Devices known to use it (zigbee2mqtt model or herdsman converter). */
  source: string;
}

export interface Z2mVocabulary {
  triggers: readonly Z2mTrigger[];
  /** Property holding the battery percentage (zigbee2mqtt: `battery`). */
  battery?: string;
}

export type RangeName = keyof typeof RANGES;

export interface DeviceTypeDefinition {
  type: DeviceType;
  /** Reading types it may publish; anything else is refused as `type_not_supported`. */
  measures: readonly ReadingType[];
  /** Default heartbeat interval (SPEC §4 `device_offline`: 5 min). */
  heartbeatSeconds: number;
  label: { 'zh-CN': string; en: string };
  /** Units it may send per reading type (SPEC §3); types without units are absent. */
  units: Partial<Record<ReadingType, readonly string[]>>;
  /** Plausible values, in stored units (SPEC §3): the hub refuses anything outside. */
  ranges: Partial<Record<RangeName, readonly [number, number]>>;
  /** Bluetooth characteristics it notifies, if it is a Bluetooth SIG health device. */
  gatt?: readonly GattCharacteristic[];
  /** zigbee2mqtt vocabulary, if it is a Zigbee device. */
  z2m?: Z2mVocabulary;
  /**
   * Raw input → readings. Pure; throws `GattDecodeError` for a frame it must
   * refuse and `Error` for an input kind the device does not speak.
   */
  convert(input: DeviceInput): ReadingDraft[];
  examples: readonly DeviceExample[];
}

/**
 * zigbee2mqtt vocabularies of the devices Anxin meets in homes (SPEC §8), as
 * data. A new radar with a new word is one more trigger here.
 */
import type { Z2mTrigger } from './types.js';

/** Radar and wearable fall detectors. */
export const FALL_TRIGGERS: readonly Z2mTrigger[] = [
  {
    property: 'fall_down_status', reading: 'fall', active: ['fall'], normal: ['none'],
    // `maybe_fall` is in between: the radar has not decided; its `fall` follows if it does.
    source: 'Tuya MIR-HE200-TY fall radar: herdsman-converters lib/tuya `tuyaRadar.fallDown` none / maybe_fall / fall',
  },
  {
    property: 'fall_status', reading: 'fall', active: ['fall_alarm', 'fall'], normal: ['normal', 'none', 'no_fall'],
    source: 'SPEC §8 `fall_status: fall_alarm` (radars reporting an alarm enum)',
  },
  {
    property: 'status', reading: 'fall', active: ['falling', 'fall'], normal: ['normal', 'none', 'static', 'stationary', 'moving'],
    source: 'SPEC §8 `status: falling` (radars reporting one body-state enum)',
  },
  {
    property: 'fall_detected', reading: 'fall', active: [true], normal: [false],
    source: 'SPEC §8 `fall_detected: true` (binary fall flag)',
  },
];

/** Presence radars and PIR sensors: someone is there (SPEC §8 `presence`/`occupancy` as motion). */
export const PRESENCE_TRIGGERS: readonly Z2mTrigger[] = [
  { property: 'presence', reading: 'motion', active: [true], normal: [false], source: 'zigbee2mqtt `presence` binary (mmWave radars)' },
  { property: 'occupancy', reading: 'motion', active: [true], normal: [false], source: 'zigbee2mqtt `occupancy` binary (PIR sensors, e.g. Aqara RTCGQ11LM)' },
];

/** SOS buttons and pendants. */
export const SOS_TRIGGERS: readonly Z2mTrigger[] = [
  {
    property: 'action', reading: 'sos', active: ['emergency', 'sos'], normal: [''], everyMessage: true,
    source: 'Tuya TS0215A_sos: herdsman-converters `fz.command_emergency`, exposes `action: emergency`',
  },
];

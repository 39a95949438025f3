/**
 * Device types (SPEC §6) as data: what each may report and how often it is
 * expected to be heard from. The in-home gateway and the hub share these.
 */
import type { ReadingType } from './readingSchema.js';

export const DEVICE_TYPES = ['bp_cuff', 'glucose_meter', 'fall_sensor', 'sos_button', 'motion_sensor'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

export interface DeviceTypeDefinition {
  type: DeviceType;
  /** Reading types it may publish; anything else is refused as `type_not_supported`. */
  measures: readonly ReadingType[];
  /** Default heartbeat interval (SPEC §4 `device_offline`: 5 min). */
  heartbeatSeconds: number;
  label: { 'zh-CN': string; en: string };
}

export const DEVICE_TYPE_DEFINITIONS: Record<DeviceType, DeviceTypeDefinition> = {
  bp_cuff: { type: 'bp_cuff', measures: ['blood_pressure', 'heartbeat'], heartbeatSeconds: 300, label: { 'zh-CN': '血压计', en: 'Blood-pressure cuff' } },
  glucose_meter: { type: 'glucose_meter', measures: ['glucose', 'heartbeat'], heartbeatSeconds: 300, label: { 'zh-CN': '血糖仪', en: 'Glucose meter' } },
  // Radar fall detectors also report presence, which the hub treats as motion.
  fall_sensor: { type: 'fall_sensor', measures: ['fall', 'motion', 'heartbeat'], heartbeatSeconds: 300, label: { 'zh-CN': '跌倒探测器', en: 'Fall sensor' } },
  // Many SOS pendants detect falls as well.
  sos_button: { type: 'sos_button', measures: ['sos', 'fall', 'heartbeat'], heartbeatSeconds: 300, label: { 'zh-CN': '紧急呼叫按钮', en: 'SOS pendant' } },
  motion_sensor: { type: 'motion_sensor', measures: ['motion', 'heartbeat'], heartbeatSeconds: 300, label: { 'zh-CN': '人体感应器', en: 'Motion sensor' } },
};

export function isDeviceType(t: string): t is DeviceType {
  return (DEVICE_TYPES as readonly string[]).includes(t);
}

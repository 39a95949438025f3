/**
 * Device types (SPEC §6) as data: what each may report, in which units and
 * ranges, how often it is heard from, and how its raw input becomes readings.
 * One file per definition under `definitions/`; the gateway and the hub share them.
 */
import { bpCuff } from './definitions/bpCuff.js';
import { fallSensor } from './definitions/fallSensor.js';
import { glucoseMeter } from './definitions/glucoseMeter.js';
import { motionSensor } from './definitions/motionSensor.js';
import { sosButton } from './definitions/sosButton.js';
import { DEVICE_TYPES, type DeviceType, type DeviceTypeDefinition } from './definitions/types.js';

export { DEVICE_TYPES };
export type {
  DeviceExample, DeviceInput, DeviceType, DeviceTypeDefinition, GattCharacteristic, ReadingDraft, ReadingDraftWithExtras,
  Z2mTrigger, Z2mValue, Z2mVocabulary,
} from './definitions/types.js';

export const DEVICE_TYPE_DEFINITIONS: Record<DeviceType, DeviceTypeDefinition> = {
  bp_cuff: bpCuff,
  glucose_meter: glucoseMeter,
  fall_sensor: fallSensor,
  sos_button: sosButton,
  motion_sensor: motionSensor,
};

export function isDeviceType(t: string): t is DeviceType {
  return (DEVICE_TYPES as readonly string[]).includes(t);
}

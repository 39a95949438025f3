/** Radar fall detector on zigbee2mqtt; it also sees presence, which the hub treats as motion. */
import { converterFor } from './convertInput.js';
import type { DeviceTypeDefinition } from './types.js';
import { FALL_TRIGGERS, PRESENCE_TRIGGERS } from './z2mVocabularies.js';

const speaks = { type: 'fall_sensor', z2m: { triggers: [...FALL_TRIGGERS, ...PRESENCE_TRIGGERS], battery: 'battery' } } as const;
const RADAR = 'Tuya MIR-HE200-TY fall radar state (herdsman-converters: fall_down_status, presence)';

export const fallSensor: DeviceTypeDefinition = {
  ...speaks,
  label: { 'zh-CN': '跌倒探测器', en: 'Fall sensor' },
  measures: ['fall', 'motion', 'heartbeat'],
  heartbeatSeconds: 300,
  units: {},
  ranges: {},
  convert: converterFor(speaks),
  examples: [
    {
      name: 'fall_down_status none → fall',
      input: { kind: 'z2m', previous: { fall_down_status: 'none', presence: true, battery: 80 }, state: { fall_down_status: 'fall', presence: true, battery: 80 } },
      expected: [{ type: 'fall' }],
      source: RADAR,
    },
    {
      name: 'the same fall republished: nothing new',
      input: { kind: 'z2m', previous: { fall_down_status: 'fall', presence: true }, state: { fall_down_status: 'fall', presence: true } },
      expected: [],
      source: RADAR,
    },
    {
      name: 'someone walks in',
      input: { kind: 'z2m', previous: { fall_down_status: 'none', presence: false }, state: { fall_down_status: 'none', presence: true } },
      expected: [{ type: 'motion' }],
      source: RADAR,
    },
    {
      name: 'battery 80 → 78 %',
      input: { kind: 'z2m', previous: { presence: true, battery: 80 }, state: { presence: true, battery: 78 } },
      expected: [{ type: 'heartbeat', battery: 78 }],
      source: 'zigbee2mqtt `battery` (percent)',
    },
  ],
};

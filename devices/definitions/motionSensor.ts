/** PIR or presence sensor on zigbee2mqtt (SPEC §4 `no_activity`). */
import { converterFor } from './convertInput.js';
import type { DeviceTypeDefinition } from './types.js';
import { PRESENCE_TRIGGERS } from './z2mVocabularies.js';

const speaks = { type: 'motion_sensor', z2m: { triggers: PRESENCE_TRIGGERS, battery: 'battery' } } as const;

export const motionSensor: DeviceTypeDefinition = {
  ...speaks,
  label: { 'zh-CN': '人体感应器', en: 'Motion sensor' },
  measures: ['motion', 'heartbeat'],
  heartbeatSeconds: 300,
  units: {},
  ranges: {},
  convert: converterFor(speaks),
  examples: [
    {
      name: 'occupancy false → true',
      input: { kind: 'z2m', previous: { occupancy: false, battery: 60 }, state: { occupancy: true, battery: 60 } },
      expected: [{ type: 'motion' }],
      source: 'Aqara RTCGQ11LM PIR state (zigbee2mqtt `occupancy`)',
    },
    {
      name: 'occupancy back to false, battery crosses 15 %',
      input: { kind: 'z2m', previous: { occupancy: true, battery: 15 }, state: { occupancy: false, battery: 14.5 } },
      expected: [{ type: 'heartbeat', battery: 14.5 }],
      source: 'SPEC §4 battery_low (< 15 %)',
    },
  ],
};

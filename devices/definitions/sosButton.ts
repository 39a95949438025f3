/** SOS pendant or button on zigbee2mqtt; many pendants detect falls as well. */
import { converterFor } from './convertInput.js';
import type { DeviceTypeDefinition } from './types.js';
import { FALL_TRIGGERS, SOS_TRIGGERS } from './z2mVocabularies.js';

const speaks = { type: 'sos_button', z2m: { triggers: [...SOS_TRIGGERS, ...FALL_TRIGGERS], battery: 'battery' } } as const;

export const sosButton: DeviceTypeDefinition = {
  ...speaks,
  label: { 'zh-CN': '紧急呼叫按钮', en: 'SOS pendant' },
  measures: ['sos', 'fall', 'heartbeat'],
  heartbeatSeconds: 300,
  units: {},
  ranges: {},
  convert: converterFor(speaks),
  examples: [
    {
      name: 'a press',
      input: { kind: 'z2m', previous: { battery: 90 }, state: { action: 'emergency', battery: 90 } },
      expected: [{ type: 'sos' }],
      source: 'Tuya TS0215A_sos (herdsman-converters: exposes action "emergency")',
    },
    {
      // zigbee2mqtt never caches `action`, so a second identical message is a second press.
      name: 'a second press right after',
      input: { kind: 'z2m', previous: { action: 'emergency', battery: 90 }, state: { action: 'emergency', battery: 90 } },
      expected: [{ type: 'sos' }],
      source: 'Koenkk/zigbee2mqtt lib/state.ts dontCacheProperties (^action$)',
    },
    {
      name: 'a pendant that detects a fall, first message heard',
      input: { kind: 'z2m', state: { fall_detected: true } },
      expected: [{ type: 'fall' }],
      source: 'SPEC §8 `fall_detected: true`',
    },
  ],
};

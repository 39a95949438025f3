/** Bluetooth SIG glucose meter (Glucose Service, 0x2A18). */
import { GLUCOSE_UNITS } from '../units.js';
import { RANGES } from '../validateReading.js';
import { converterFor } from './convertInput.js';
import type { DeviceTypeDefinition } from './types.js';

const speaks = { type: 'glucose_meter', gatt: ['2A18'] } as const;

export const glucoseMeter: DeviceTypeDefinition = {
  ...speaks,
  label: { 'zh-CN': '血糖仪', en: 'Glucose meter' },
  measures: ['glucose', 'heartbeat'],
  // Spot-check device: off between uses, so silence is not news for hours. 3 × 12 h without a
  // word is (a flat battery, a lost meter); daily use itself is watched by `reading_missed`.
  heartbeatSeconds: 43_200,
  units: { glucose: GLUCOSE_UNITS },
  ranges: { glucose: RANGES.glucose },
  convert: converterFor(speaks),
  examples: [
    {
      name: '101 mg/dL (0.00101 kg/L), capillary whole blood from a finger',
      input: { kind: 'gatt', characteristic: '2A18', hex: '02 0700 E807 05 1F 07 2D 00 65B0 11' },
      expected: [{
        type: 'glucose', value: 101, unit: 'mg/dL', ts: '2024-05-31T07:45:00+08:00',
        sequenceNumber: 7, contextFollows: false, sampleType: 'capillary_whole_blood', sampleLocation: 'finger',
      }],
      source: 'hand-crafted from the GATT Specification Supplement "Glucose Measurement" layout',
    },
    {
      name: '6.2 mmol/L (0.0062 mol/L), time offset +60 min, capillary plasma',
      input: { kind: 'gatt', characteristic: '2a18', hex: '07 0800 E807 05 1F 0B 00 00 3C00 3EC0 12' },
      expected: [{
        type: 'glucose', value: 6.2, unit: 'mmol/L', ts: '2024-05-31T12:00:00+08:00', timeOffsetMinutes: 60,
        sequenceNumber: 8, contextFollows: false, sampleType: 'capillary_plasma', sampleLocation: 'finger',
      }],
      source: 'hand-crafted from the GATT Specification Supplement "Glucose Measurement" layout',
    },
  ],
};

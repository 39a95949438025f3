/** Bluetooth SIG blood-pressure cuff (Blood Pressure Service, 0x2A35). */
import { PRESSURE_UNITS } from '../units.js';
import { RANGES } from '../validateReading.js';
import { converterFor } from './convertInput.js';
import type { DeviceTypeDefinition } from './types.js';

const speaks = { type: 'bp_cuff', gatt: ['2A35'] } as const;

export const bpCuff: DeviceTypeDefinition = {
  ...speaks,
  label: { 'zh-CN': '血压计', en: 'Blood-pressure cuff' },
  measures: ['blood_pressure', 'heartbeat'],
  // Spot-check device: off between uses, so silence is not news for hours. 3 × 12 h without a
  // word is (a flat battery, a lost meter); daily use itself is watched by `reading_missed`.
  heartbeatSeconds: 43_200,
  units: { blood_pressure: PRESSURE_UNITS },
  ranges: { systolic: RANGES.systolic, diastolic: RANGES.diastolic, map: RANGES.map, pulse: RANGES.pulse },
  convert: converterFor(speaks),
  examples: [
    {
      name: 'every field, mmHg; year 0 (unknown): no ts',
      input: { kind: 'gatt', characteristic: '2A35', hex: '1E8A00580078000000041114293B3C00012700' },
      expected: [{
        type: 'blood_pressure', systolic: 138, diastolic: 88, map: 120, unit: 'mmHg', pulse: 60, userId: 1, irregularPulse: true,
        measurementStatus: { bodyMovement: true, cuffTooLoose: true, irregularPulse: true, pulseRate: 'in_range', improperPosition: true },
        deviceTimeUnknown: true,
      }],
      source: 'NordicSemiconductor/Android-BLE-Common-Library ble-common/src/test/java/no/nordicsemi/android/ble/common/callback/bps/BloodPressureMeasurementDataCallbackTest.java onBloodPressureMeasurementReceived_full',
    },
    {
      name: 'kPa, pulse and status, no time stamp',
      input: { kind: 'gatt', characteristic: '0x2a35', hex: '15BDF00B009FF03C001200' },
      expected: [{
        type: 'blood_pressure', systolic: 18.9, diastolic: 11, map: 15.9, unit: 'kPa', pulse: 60, irregularPulse: false,
        measurementStatus: { bodyMovement: false, cuffTooLoose: true, irregularPulse: false, pulseRate: 'below_lower_limit', improperPosition: false },
      }],
      source: 'NordicSemiconductor/Android-BLE-Common-Library …/bps/BloodPressureMeasurementDataCallbackTest.java onBloodPressureMeasurementReceived_some',
    },
    {
      name: 'time stamp 2024-03-15 14:30:45 (China Standard Time)',
      input: { kind: 'gatt', characteristic: '2A35', hex: '02 8C00 5A00 6E00 E8 07 03 0F 0E 1E 2D' },
      expected: [{ type: 'blood_pressure', systolic: 140, diastolic: 90, map: 110, unit: 'mmHg', ts: '2024-03-15T14:30:45+08:00' }],
      // Date Time bytes from RonanB96/bluetooth-sig-python tests/gatt/characteristics/test_blood_pressure_measurement.py
      // "140/90 mmHg with timestamp"; its SFLOATs (0x808C: exponent −8) are re-encoded with exponent 0.
      source: 'hand-crafted after RonanB96/bluetooth-sig-python tests/gatt/characteristics/test_blood_pressure_measurement.py',
    },
  ],
};

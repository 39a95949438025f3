/** The public entry: characteristic spellings, the JSON line's hex, and what it refuses. */
import { describe, expect, it } from 'vitest';
import { GattDecodeError, decodeGattNotification, gattCharacteristic, hexToBytes } from '../../../devices/gatt/index.js';

const BP = hexToBytes('00 7800 5000 5D00');
const GLUCOSE = hexToBytes('02 0100 E807 05 1F 07 2D 00 65B0 11');

describe('decodeGattNotification', () => {
  it.each([
    ['2A35', '2A35'], ['2a35', '2A35'], ['0x2A35', '2A35'], ['0x2a35', '2A35'], [' 2A35 ', '2A35'],
    ['00002a35-0000-1000-8000-00805f9b34fb', '2A35'], ['00002A18-0000-1000-8000-00805F9B34FB', '2A18'], ['2A18', '2A18'],
    ['2A36', undefined], ['180D', undefined], ['', undefined], ['0x2A35x', undefined], ['00002a35-0000-1000-8000-000000000000', undefined],
  ])('characteristic %j → %s', (spelling, expected) => {
    expect(gattCharacteristic(spelling)).toBe(expected);
  });

  it('sends each characteristic to its decoder', () => {
    expect(decodeGattNotification('0x2a35', BP)).toEqual({ type: 'blood_pressure', systolic: 120, diastolic: 80, map: 93, unit: 'mmHg' });
    expect(decodeGattNotification('2A18', GLUCOSE)).toMatchObject({ type: 'glucose', value: 101, unit: 'mg/dL', ts: '2024-05-31T07:45:00+08:00' });
  });

  it('passes the UTC offset on', () => {
    expect(decodeGattNotification('2A18', GLUCOSE, { utcOffsetMinutes: 60 }).ts).toBe('2024-05-31T07:45:00+01:00');
  });

  it('refuses a characteristic it does not decode, by name', () => {
    const e = (() => {
      try {
        decodeGattNotification('2A36', BP);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(GattDecodeError);
    expect(e).toMatchObject({ code: 'unsupported_characteristic', offset: 0, name: 'GattDecodeError' });
    expect((e as Error).message).toContain('"2A36"');
  });
});

describe('hexToBytes', () => {
  it.each([
    ['1E8A00', [0x1e, 0x8a, 0x00]],
    ['1e 8a 00', [0x1e, 0x8a, 0x00]],
    ['1E:8A:00', [0x1e, 0x8a, 0x00]],
    ['', []],
  ])('%j', (hex, bytes) => {
    expect([...hexToBytes(hex)]).toEqual(bytes);
  });

  it.each([
    ['1E8', 'invalid_hex', 1, /odd number/],
    ['1E8G', 'invalid_hex', 1, /"G", not a hex digit/],
    ['0x1E', 'invalid_hex', 0, /"x"/],
  ])('%j is refused', (hex, code, offset, message) => {
    expect(() => hexToBytes(hex)).toThrow(message);
    try {
      hexToBytes(hex);
    } catch (e) {
      expect(e).toMatchObject({ code, offset });
    }
  });
});

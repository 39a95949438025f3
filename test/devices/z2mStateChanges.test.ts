/** zigbee2mqtt states → readings, on changes only (SPEC §8). */
import { describe, expect, it } from 'vitest';
import { DEVICE_TYPE_DEFINITIONS } from '../../devices/deviceTypes.js';
import { z2mStateChanges } from '../../devices/z2mStateChanges.js';

const { fall_sensor: FALL, motion_sensor: MOTION, sos_button: SOS, bp_cuff: CUFF } = DEVICE_TYPE_DEFINITIONS;
type S = Record<string, unknown> | undefined;

describe('falls', () => {
  it.each<[string, S, S, string[]]>([
    ['fall_down_status none → fall', { fall_down_status: 'none' }, { fall_down_status: 'fall' }, ['fall']],
    ['fall_down_status fall → fall (republished)', { fall_down_status: 'fall' }, { fall_down_status: 'fall' }, []],
    ['fall_down_status fall → none (back to normal)', { fall_down_status: 'fall' }, { fall_down_status: 'none' }, []],
    ['fall_down_status none → maybe_fall (undecided)', { fall_down_status: 'none' }, { fall_down_status: 'maybe_fall' }, []],
    ['fall_down_status maybe_fall → fall', { fall_down_status: 'maybe_fall' }, { fall_down_status: 'fall' }, ['fall']],
    ['fall_down_status FALL (upper case)', { fall_down_status: 'none' }, { fall_down_status: 'FALL' }, ['fall']],
    ['fall_status normal → fall_alarm', { fall_status: 'normal' }, { fall_status: 'fall_alarm' }, ['fall']],
    ['fall_status fall_alarm → fall_alarm', { fall_status: 'fall_alarm' }, { fall_status: 'fall_alarm' }, []],
    ['fall_status fall_alarm → normal', { fall_status: 'fall_alarm' }, { fall_status: 'normal' }, []],
    ['status moving → falling', { status: 'moving' }, { status: 'falling' }, ['fall']],
    ['status falling → falling', { status: 'falling' }, { status: 'falling' }, []],
    ['status falling → static', { status: 'falling' }, { status: 'static' }, []],
    ['fall_detected false → true', { fall_detected: false }, { fall_detected: true }, ['fall']],
    ['fall_detected true → true (the same fall twice)', { fall_detected: true }, { fall_detected: true }, []],
    ['fall_detected true → false', { fall_detected: true }, { fall_detected: false }, []],
    ['fall_detected "true" (a string is not the boolean)', { fall_detected: false }, { fall_detected: 'true' }, []],
    ['first message heard, already a fall', undefined, { fall_detected: true }, ['fall']],
    ['first message heard, all normal', undefined, { fall_detected: false, presence: false }, []],
    ['two vocabularies at once: one fall', { fall_detected: false, fall_down_status: 'none' }, { fall_detected: true, fall_down_status: 'fall' }, ['fall']],
    ['property missing from the next state', { fall_detected: true }, { presence: false }, []],
    ['fall and someone present in one message', { fall_down_status: 'none', presence: false }, { fall_down_status: 'fall', presence: true }, ['fall', 'motion']],
  ])('%s → %j', (_name, previous, next, types) => {
    expect(z2mStateChanges(previous, next!, FALL).map((r) => r.type)).toEqual(types);
  });
});

describe('presence and occupancy as motion', () => {
  it.each<[string, S, S, string[]]>([
    ['presence false → true', { presence: false }, { presence: true }, ['motion']],
    ['presence true → true', { presence: true }, { presence: true }, []],
    ['presence true → false', { presence: true }, { presence: false }, []],
    ['occupancy false → true', { occupancy: false }, { occupancy: true }, ['motion']],
    ['occupancy true → true', { occupancy: true }, { occupancy: true }, []],
    ['occupancy and presence both start: one motion', { occupancy: false, presence: false }, { occupancy: true, presence: true }, ['motion']],
    ['first message heard, occupied', undefined, { occupancy: true }, ['motion']],
  ])('%s → %j', (_name, previous, next, types) => {
    expect(z2mStateChanges(previous, next!, MOTION).map((r) => r.type)).toEqual(types);
  });
});

describe('SOS presses', () => {
  it.each<[string, S, S, string[]]>([
    ['a press', {}, { action: 'emergency' }, ['sos']],
    ['a second identical press (z2m never caches action)', { action: 'emergency' }, { action: 'emergency' }, ['sos']],
    ['action cleared', { action: 'emergency' }, { action: '' }, []],
    ['a battery report without action', { battery: 90 }, { battery: 90 }, []],
    ['another action word', {}, { action: 'single' }, []],
  ])('%s → %j', (_name, previous, next, types) => {
    expect(z2mStateChanges(previous, next!, SOS).map((r) => r.type)).toEqual(types);
  });
});

describe('battery as heartbeat', () => {
  it.each<[string, unknown, unknown, number | null]>([
    ['first report', undefined, 80, 80],
    ['unchanged', 80, 80, null],
    ['down 0.5 %', 80, 79.5, null],
    ['down 1 %', 80, 79, 79],
    ['up 1 % (batteries replaced)', 40, 41, 41],
    ['replaced: 10 → 100', 10, 100, 100],
    ['crossing 15 % down by 0.5', 15.2, 14.7, 14.7],
    ['crossing 15 % up by 0.5', 14.7, 15.2, 15.2],
    ['to exactly 15 %, from 15.5: not below, no step', 15.5, 15, null],
    ['not a number', 80, '79', null],
    ['out of range', 80, 120, null],
    ['gone from the state', 80, undefined, null],
  ])('%s (%j → %j)', (_name, before, after, battery) => {
    const readings = z2mStateChanges(before === undefined ? {} : { battery: before }, after === undefined ? {} : { battery: after }, MOTION);
    expect(readings).toEqual(battery === null ? [] : [{ type: 'heartbeat', battery }]);
  });
});

it('a device without zigbee2mqtt vocabulary yields nothing', () => {
  expect(z2mStateChanges(undefined, { fall_detected: true, battery: 50 }, CUFF)).toEqual([]);
});

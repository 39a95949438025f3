/**
 * A simulator line as the hub receives it: the gateway's own steps (its
 * Bluetooth decoding with the clock rules, `id` and `ts` completion, the hub's
 * validator) and the device-type check of the hub's ingest, without a broker.
 */
import { DEVICE_TYPE_DEFINITIONS } from '../../../devices/deviceTypes.js';
import type { HomeLayout } from '../../../devices/simulators/homeLayout.js';
import type { GatewayLine } from '../../../devices/simulators/homeSimulator.js';
import { validateReading, type Reading } from '../../../devices/validateReading.js';
import { evaluateReading } from '../../../server/rules/readingRules.js';
import { DEFAULT_RULE_CONFIG } from '../../../server/rules/ruleConfig.js';
import { decodeBluetoothLine } from '../../../gateway/bluetoothLine.js';

let counter = 0;

/** The stored reading, or throws naming why the gateway or hub would refuse the line. */
export function throughGateway(line: GatewayLine, home: HomeLayout, receivedAt: number): Reading {
  const { device, ...rest } = line;
  const known = home.devices.find((d) => d.id === device);
  if (!known) throw new Error(`line for unknown device ${device}`);
  let reading: Record<string, unknown> = rest;
  if ('hex' in rest) {
    const decoded = decodeBluetoothLine({ device, characteristic: rest.characteristic, hex: rest.hex }, receivedAt);
    if ('ok' in decoded) throw new Error(`gateway refused ${JSON.stringify(line)}: ${decoded.error} ${decoded.detail}`);
    reading = decoded.reading;
  }
  const outcome = validateReading({ id: `${device}-${++counter}`, ts: receivedAt, ...reading }, { homeId: home.homeId, deviceId: device }, receivedAt);
  if (!outcome.ok) throw new Error(`refused ${JSON.stringify(line)}: ${outcome.refusal.code} ${outcome.refusal.detail}`);
  const definition = DEVICE_TYPE_DEFINITIONS[known.type];
  if (!definition.measures.includes(outcome.reading.type)) throw new Error(`a ${known.type} does not report ${outcome.reading.type}`);
  if (outcome.reading.residentId !== null && !home.residents.some((r) => r.id === outcome.reading.residentId)) {
    throw new Error(`resident ${outcome.reading.residentId} does not live in ${home.homeId}`);
  }
  return { ...outcome.reading, residentId: outcome.reading.residentId ?? known.residentId ?? null };
}

/** The alert the default rules raise for a reading received at `receivedAt` (SPEC §4). */
export function ruleFor(reading: Reading) {
  return evaluateReading(reading, DEFAULT_RULE_CONFIG);
}

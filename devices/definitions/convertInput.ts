/**
 * The one converter every definition shares: a GATT frame goes to the Bluetooth
 * decoders, a zigbee2mqtt state to its vocabulary. A definition only says which
 * characteristics and which vocabulary it has.
 */
import { decodeGattNotification, gattCharacteristic, hexToBytes } from '../gatt/index.js';
import { z2mStateChanges } from '../z2mStateChanges.js';
import type { DeviceInput, DeviceTypeDefinition, ReadingDraft } from './types.js';

type Speaks = Pick<DeviceTypeDefinition, 'type' | 'gatt' | 'z2m'>;

/** Builds a definition's `convert` from what it speaks. */
export function converterFor(device: Speaks): (input: DeviceInput) => ReadingDraft[] {
  return (input) => convertInput(device, input);
}

export function convertInput(device: Speaks, input: DeviceInput): ReadingDraft[] {
  switch (input.kind) {
    case 'gatt': {
      const c = gattCharacteristic(input.characteristic);
      // An unknown characteristic is the decoder's error to name; a known one this device does not send is ours.
      if (c && !device.gatt?.includes(c)) throw new Error(`a ${device.type} does not send characteristic ${c}`);
      return [decodeGattNotification(input.characteristic, hexToBytes(input.hex))];
    }
    case 'z2m':
      if (!device.z2m) throw new Error(`a ${device.type} has no zigbee2mqtt vocabulary`);
      return z2mStateChanges(input.previous, input.state, device);
  }
}

/** The connections bench's hand-written MQTT 3.1.1 framing, checked against the standard's own byte layouts. */
import { describe, expect, it } from 'vitest';
import {
  connectionDeviceId, connectionHomeId, encodeConnect, encodePublish, encodeRemainingLength, readPackets, sourceAddress,
} from '../../bench/connectionClients.js';

describe('connection bench client', () => {
  it.each([
    [0, [0x00]], [127, [0x7f]], [128, [0x80, 0x01]], [16_383, [0xff, 0x7f]], [16_384, [0x80, 0x80, 0x01]], [268_435_455, [0xff, 0xff, 0xff, 0x7f]],
  ])('encodes remaining length %i as in MQTT 3.1.1 table 2.4', (n, bytes) => {
    expect([...encodeRemainingLength(n)]).toEqual(bytes);
  });

  it('encodes CONNECT with clean session, username, password and keepalive (§3.1)', () => {
    const p = encodeConnect({ clientId: 'd1', username: 'd1', password: 'pw', keepaliveSeconds: 120 });
    expect([...p]).toEqual([
      0x10, 22, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0xc2, 0, 120,
      0, 2, 0x64, 0x31, 0, 2, 0x64, 0x31, 0, 2, 0x70, 0x77,
    ]);
  });

  it('encodes PUBLISH QoS 1 with its packet id, and QoS 0 without (§3.3)', () => {
    expect([...encodePublish('a/b', 'x', 1, 0x0102)]).toEqual([0x32, 8, 0, 3, 0x61, 0x2f, 0x62, 1, 2, 0x78]);
    expect([...encodePublish('a/b', 'x', 0)]).toEqual([0x30, 6, 0, 3, 0x61, 0x2f, 0x62, 0x78]);
  });

  it('splits packets across chunk boundaries and returns the incomplete tail', () => {
    const stream = Buffer.from([0x20, 2, 0, 0, 0x40, 2, 0, 7, 0xd0, 0, 0x40, 2, 0]);
    const seen: Array<[number, number[]]> = [];
    const tail = readPackets(stream, (type, body) => seen.push([type, [...body]]));
    expect(seen).toEqual([[2, [0, 0]], [4, [0, 7]], [13, []]]);
    expect([...tail!]).toEqual([0x40, 2, 0]);
    const rest = readPackets(Buffer.concat([tail!, Buffer.from([9])]), (type, body) => seen.push([type, [...body]]));
    expect(rest).toBeNull();
    expect(seen.at(-1)).toEqual([4, [0, 9]]);
  });

  it('waits for a remaining length split over two chunks', () => {
    const big = encodePublish('t', 'y'.repeat(200), 0);
    expect(readPackets(big.subarray(0, 2), () => expect.unreachable())).toEqual(big.subarray(0, 2));
  });

  it('names devices and homes four to a home, and spreads sources over addresses', () => {
    expect(connectionDeviceId(7)).toBe('cs-d-000007');
    expect(connectionHomeId(7)).toBe('cs-h-000001');
    expect(sourceAddress(0, 5000)).toBe('127.1.0.1');
    expect(sourceAddress(4999, 5000)).toBe('127.1.0.1');
    expect(sourceAddress(5000, 5000)).toBe('127.1.0.2');
    expect(sourceAddress(250 * 5000, 5000)).toBe('127.1.1.1');
  });
});

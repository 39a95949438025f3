/** The capacity bench's pure helpers: its fleet and import document, the alert-latency matching, mosquitto's configuration. */
import { describe, expect, it } from 'vitest';
import { alertLatencies, capacityDocument, capacityFleet, KIT } from '../../bench/capacity.js';
import { mosquittoConfig } from '../../bench/mosquittoBroker.js';

describe('capacity bench', () => {
  it('builds K homes of cuffs plus a heartbeat kit, every id unique', () => {
    const { cuffs, kit } = capacityFleet({ homes: 3, cuffs: 2, kit: 2 });
    expect(cuffs).toHaveLength(6);
    expect(kit.map((d) => d.type)).toEqual(['fall_sensor', 'sos_button', 'fall_sensor', 'sos_button', 'fall_sensor', 'sos_button']);
    const ids = [...cuffs, ...kit].map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(kit.map((d) => d.homeId))).toEqual(new Set(cuffs.map((d) => d.homeId)));
    expect(capacityFleet({ homes: 1, cuffs: 1, kit: KIT.length }).kit.map((d) => d.id)).toEqual(['bench-h-0000-fall', 'bench-h-0000-sos', 'bench-h-0000-motion']);
  });

  it('imports one resident per cuff (SPEC §1: at most 4 to a home) and the kit unbound', () => {
    const { cuffs, kit } = capacityFleet({ homes: 2, cuffs: 4, kit: 3 });
    const doc = capacityDocument(cuffs, kit) as { homes: Array<{ id: string; residents: unknown[]; devices: Array<{ id: string; type: string; resident?: string }> }>; users: Array<{ role: string }> };
    expect(doc.homes).toHaveLength(2);
    for (const home of doc.homes) {
      expect(home.residents).toHaveLength(4);
      expect(home.devices.filter((d) => d.type === 'bp_cuff').every((d) => d.resident !== undefined)).toBe(true);
      expect(home.devices.filter((d) => d.type !== 'bp_cuff')).toEqual(kit.filter((d) => d.homeId === home.id).map((d) => ({ id: d.id, type: d.type })));
    }
    expect(doc.users.map((u) => u.role)).toEqual(['operator']);
  });

  it('matches each abnormal reading to its first alert event, on the sender clock corrected by the offset', () => {
    const sent = { keys: ['a/1', 'a/2', 'b/1', 'c/1'], sentAtMs: Float64Array.from([1000, 1010, 1020, 1030]), expectCreated: Uint8Array.from([1, 0, 1, 1]) };
    // The generator's clock runs 2 ms ahead of ours: its 1000 is our 998.
    const seen = new Map([
      ['a/1', { created: true, atMs: 1001 }],
      ['a/2', { created: false, atMs: 1013 }],
      ['b/1', { created: false, atMs: 1028 }],
    ]);
    const l = alertLatencies(sent, seen, 2);
    expect([...l.createdUs]).toEqual([3000]);
    expect([...l.updatedUs]).toEqual([5000, 10_000]);
    expect(l.missing).toBe(1);
    expect(l.unexpectedKind).toBe(1);
  });

  it('configures mosquitto on loopback, anonymous, without persistence, and queues without limit like aedes', () => {
    const lines = mosquittoConfig(18830).split('\n');
    expect(lines).toEqual(expect.arrayContaining(['listener 18830 127.0.0.1', 'allow_anonymous true', 'persistence false', 'max_queued_messages 0']));
  });
});

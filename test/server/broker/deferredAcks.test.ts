/**
 * The hub's own PUBACKs (deferredAcks.ts): in arrival order per client, only
 * once durable, none after a store failure, and backpressure past the limit.
 * The client is a stand-in object with a socket that records what is
 * written; the same path runs against real MQTT clients in the ingest,
 * durability and benchmark runs.
 */
import type { Client } from 'aedes';
import { describe, expect, it } from 'vitest';
import { DeferredAcks } from '../../../server/broker/deferredAcks.js';

function fakeClient() {
  const written: number[][] = [];
  let closed = 0;
  const client = {
    connected: true,
    conn: { destroyed: false, write: (b: Buffer) => { written.push([...b]); return true; } },
    close: () => { closed += 1; },
  };
  return { client: client as unknown as Client, written, closed: () => closed };
}

/** Message ids in the PUBACKs of each write. */
const acked = (written: number[][]) => written.map((w) => {
  const ids: number[] = [];
  for (let i = 0; i < w.length; i += 4) {
    expect(w.slice(i, i + 2)).toEqual([0x40, 2]);
    ids.push(w[i + 2]! * 256 + w[i + 3]!);
  }
  return ids;
});

const turn = () => new Promise<void>((r) => setImmediate(r));

describe('DeferredAcks', () => {
  it('acknowledges in arrival order, each only once durable, in one write per turn', async () => {
    const acks = new DeferredAcks(64);
    const c = fakeClient();
    const released: number[] = [];
    const t = [1, 2, 3, 300].map((id) => {
      const x = acks.take(c.client, id, () => released.push(id));
      x.admit();
      return x;
    });
    expect(released).toEqual([1, 2, 3, 300]);
    t[1]!.durable(); // 2 is durable, but 1 is not yet
    t[3]!.durable();
    await turn();
    expect(c.written).toEqual([]);
    t[0]!.durable();
    await turn();
    expect(acked(c.written)).toEqual([[1, 2]]);
    t[2]!.durable();
    await turn();
    expect(acked(c.written)).toEqual([[1, 2], [3, 300]]);
  });

  it('keeps each client its own order', async () => {
    const acks = new DeferredAcks(64);
    const a = fakeClient();
    const b = fakeClient();
    const ta = acks.take(a.client, 7, () => {});
    const tb = acks.take(b.client, 7, () => {});
    tb.durable();
    await turn();
    expect(acked(b.written)).toEqual([[7]]);
    expect(a.written).toEqual([]);
    ta.durable();
    await turn();
    expect(acked(a.written)).toEqual([[7]]);
  });

  it('closes the connection and acknowledges nothing more when a publish could not be stored', async () => {
    const acks = new DeferredAcks(64);
    const c = fakeClient();
    const [first, second] = [1, 2].map((id) => acks.take(c.client, id, () => {}));
    second!.durable();
    first!.durable(new Error('disk full'));
    await turn();
    expect(c.closed()).toBe(1);
    expect(c.written).toEqual([]);
  });

  it('holds aedes back past the limit and lets it go on as acknowledgements leave', async () => {
    const acks = new DeferredAcks(2);
    const c = fakeClient();
    const released: number[] = [];
    const t = [1, 2, 3, 4].map((id) => {
      const x = acks.take(c.client, id, () => released.push(id));
      x.admit();
      return x;
    });
    expect(released).toEqual([1, 2]);
    t[0]!.durable();
    await turn();
    expect(released).toEqual([1, 2, 3]);
    t[1]!.durable();
    t[2]!.durable();
    await turn();
    expect(released).toEqual([1, 2, 3, 4]);
    expect(acked(c.written).flat()).toEqual([1, 2, 3]);
  });

  it('writes nothing to a connection that is gone', async () => {
    const acks = new DeferredAcks(64);
    const c = fakeClient();
    const t = acks.take(c.client, 1, () => {});
    (c.client as unknown as { conn: { destroyed: boolean } }).conn.destroyed = true;
    t.durable();
    await turn();
    expect(c.written).toEqual([]);
  });
});

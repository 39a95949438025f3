/**
 * DeferredAcks while the ingest sets a client's publishes aside
 * (`waitingFor`, ingest/ingestBudget.ts): aedes is not released for that
 * client until they have all started, PUBACKs keep their order, and the
 * client's socket is really not read meanwhile — checked against real aedes,
 * whose read loop otherwise reads on as data arrives (deferredAcks.ts
 * READS_HELD).
 */
import { Aedes, type Client } from 'aedes';
import mqtt from 'mqtt';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DeferredAcks, type AckTicket } from '../../../server/broker/deferredAcks.js';

function fakeClient() {
  const written: number[][] = [];
  const client = {
    connected: true,
    _parsingBatch: 1,
    conn: { destroyed: false, write: (b: Buffer) => { written.push([...b]); return true; } },
    close: () => {},
  };
  return { client: client as unknown as Client, loop: client, written };
}

const ackedIds = (written: number[][]) => written.flatMap((w) => {
  const ids: number[] = [];
  for (let i = 0; i < w.length; i += 4) ids.push(w[i + 2]! * 256 + w[i + 3]!);
  return ids;
});

const turn = () => new Promise<void>((r) => setImmediate(r));

/** A wait the test ends when it likes: what Ingest.waitingFor hands out. */
function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('DeferredAcks with publishes set aside', () => {
  it('releases aedes for a waiting client only once its waiting publishes have started, and acknowledges in order', async () => {
    const g = gate();
    let waiting = true;
    const acks = new DeferredAcks(64, () => (waiting ? g.promise : null));
    const c = fakeClient();
    const released: number[] = [];
    const t = [1, 2, 3].map((id) => {
      const x = acks.take(c.client, id, () => released.push(id));
      x.admit();
      return x;
    });
    expect(released).toEqual([]);
    expect(c.loop._parsingBatch).toBeGreaterThan(1e6); // aedes does not read this socket meanwhile
    t[0]!.durable();
    await turn();
    expect(ackedIds(c.written)).toEqual([1]);
    expect(released).toEqual([]);
    waiting = false;
    g.open();
    await turn();
    expect(released).toEqual([1, 2, 3]);
    expect(c.loop._parsingBatch).toBe(1); // back to aedes' own count, lowered before the last release ran
    t[2]!.durable();
    t[1]!.durable();
    await turn();
    expect(ackedIds(c.written)).toEqual([1, 2, 3]);
  });

  it('lowers aedes\' count before the last held callback runs, so that callback can start the next read', async () => {
    const g = gate();
    const acks = new DeferredAcks(64, () => g.promise);
    const c = fakeClient();
    const seen: number[] = [];
    acks.take(c.client, 1, () => seen.push(c.loop._parsingBatch)).admit();
    acks.take(c.client, 2, () => seen.push(c.loop._parsingBatch)).admit();
    g.open();
    await turn();
    expect(seen).toEqual([1 + 1e9, 1]);
  });

  it('does not hold a publish answered at once (refused, status) even while the client waits', async () => {
    const g = gate();
    const acks = new DeferredAcks(64, () => g.promise);
    const c = fakeClient();
    const released: number[] = [];
    const x = acks.take(c.client, 9, () => released.push(9));
    x.durable();
    x.admit();
    expect(released).toEqual([9]);
    await turn();
    expect(ackedIds(c.written)).toEqual([9]);
  });

  it('drops what it held when the store fails: the connection is closed', async () => {
    const g = gate();
    const acks = new DeferredAcks(64, () => g.promise);
    const c = fakeClient();
    let closed = 0;
    c.loop.close = () => { closed++; };
    const released: number[] = [];
    const x = acks.take(c.client, 1, () => released.push(1));
    x.admit();
    x.durable(new Error('disk full'));
    g.open();
    await turn();
    expect(closed).toBe(1);
    expect(released).toEqual([]);
    expect(c.written).toEqual([]);
  });

  describe('with real aedes', () => {
    let server: Server | undefined;
    let broker: Aedes | undefined;
    afterEach(async () => {
      await new Promise<void>((r) => (broker ? broker.close(() => r()) : r()));
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    });

    it('reads nothing more from a held client, however its publishes arrive, and all of them once it is let go', async () => {
      const g = gate();
      let waiting = true;
      const acks = new DeferredAcks(64, () => (waiting ? g.promise : null));
      const seen: number[] = [];
      const tickets: AckTicket[] = [];
      broker = await Aedes.createBroker({
        authorizePublish: (client, packet, cb) => {
          // As the broker does (broker.ts): the hub acknowledges, aedes sees QoS 0.
          const ticket = acks.take(client!, packet.messageId!, () => cb(null));
          packet.qos = 0;
          seen.push(packet.messageId!);
          tickets.push(ticket);
          setImmediate(() => ticket.durable());
          ticket.admit();
        },
      });
      const b = broker;
      server = createServer((socket) => b.handle(socket));
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
      const port = (server.address() as { port: number }).port;
      const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'gw', reconnectPeriod: 0, protocolVersion: 4 });
      await new Promise<void>((r, j) => { client.once('connect', () => r()); client.once('error', j); });
      // About one socket read each: what a gateway's 500-reading publish is.
      const payload = Buffer.alloc(60_000, 0x61);
      let acked = 0;
      for (let i = 0; i < 40; i++) client.publish('t', payload, { qos: 1 }, (err) => { if (!err) acked++; });
      await new Promise((r) => setTimeout(r, 500));
      // The first read's publishes only (one or two); without READS_HELD aedes took all 40 in.
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.length).toBeLessThanOrEqual(3);
      waiting = false;
      g.open();
      for (let i = 0; i < 100 && acked < 40; i++) await new Promise((r) => setTimeout(r, 20));
      expect(acked).toBe(40);
      expect(seen).toHaveLength(40);
      client.end(true);
    });
  });
});

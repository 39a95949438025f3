/**
 * PUBACKs the hub sends itself, once a publish is durable, instead of aedes.
 *
 * aedes acknowledges a QoS 1 publish when `authorizePublish` calls back, and
 * reads a client's next packets only when every packet of its previous socket
 * read has been handled. Holding that callback until the group commit (as
 * "acknowledged means durable" requires) therefore lets each client have one
 * read's worth of publishes in the store's pipeline at a time: the round
 * trip doubles and throughput halves. So the hub releases aedes at once (the
 * packet is downgraded to QoS 0 for aedes, which then sends no PUBACK) and
 * writes the PUBACK here when the reading is committed:
 *
 * - in the order the publishes arrived, per client (MQTT-4.6.0-2): a publish
 *   refused at once waits behind earlier ones still being stored;
 * - never before the store said durable; a store failure closes the
 *   connection (no PUBACK: the sender keeps the reading and resends it);
 * - with backpressure: past `limit` unacknowledged publishes, aedes is
 *   released only as acknowledgements go out, so a flooding client stops
 *   being read, as before.
 */
import type { Client } from 'aedes';

interface ClientAcks {
  client: Client;
  pending: AckTicket[];
  /** aedes callbacks held back while `pending` is at the limit. */
  held: Array<() => void>;
}

export class DeferredAcks {
  private readonly clients = new WeakMap<Client, ClientAcks>();
  /** Clients with acknowledgements ready to write in this turn (written together, one write each). */
  private readonly ready = new Set<ClientAcks>();
  private flushQueued = false;

  constructor(private readonly limit: number) {}

  /**
   * Takes a QoS 1 publish whose handling is about to start. Returns its
   * ticket: `durable(err)`, to call once it is durable (or refused, which is
   * acknowledged too) or has failed (err); and `admit()`, to call after
   * handing the publish to the ingest: it runs `release` (aedes goes on with
   * this client) now, or once the client is back under the limit.
   */
  take(client: Client, messageId: number, release: () => void): AckTicket {
    let state = this.clients.get(client);
    if (!state) {
      state = { client, pending: [], held: [] };
      this.clients.set(client, state);
    }
    const ticket = new AckTicket(this, state, messageId, release);
    state.pending.push(ticket);
    return ticket;
  }

  /** Whether `s` may have one more publish in the pipeline (see AckTicket.admit). */
  underLimit(s: ClientAcks): boolean {
    return s.pending.length - s.held.length <= this.limit;
  }

  /** `s`'s oldest pending publish is durable: its acknowledgements go out after this turn's callbacks. */
  markReady(s: ClientAcks): void {
    this.ready.add(s);
    if (!this.flushQueued) {
      this.flushQueued = true;
      // After the commit's callbacks have all run: one write per client per commit.
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    for (const s of this.ready) this.writeReady(s);
    this.ready.clear();
  }

  private writeReady(s: ClientAcks): void {
    let n = 0;
    while (n < s.pending.length && s.pending[n]!.isDurable) n++;
    if (n === 0) return;
    const done = s.pending.splice(0, n);
    const conn = (s.client as unknown as { conn?: { destroyed?: boolean; write(b: Buffer): boolean } }).conn;
    if (conn && !conn.destroyed && (s.client as unknown as { connected?: boolean }).connected !== false) {
      // PUBACK (MQTT 3.1.1 §3.4): 0x40, remaining length 2, packet identifier.
      const buf = Buffer.allocUnsafe(4 * n);
      done.forEach((p, i) => {
        buf[4 * i] = 0x40;
        buf[4 * i + 1] = 2;
        buf.writeUInt16BE(p.messageId, 4 * i + 2);
      });
      conn.write(buf);
    }
    while (s.held.length > 0 && s.pending.length - s.held.length < this.limit) s.held.shift()!();
  }
}

/**
 * One QoS 1 publish waiting for its PUBACK (see DeferredAcks.take). A class,
 * not two closures per publish: this runs for every reading.
 */
export class AckTicket {
  /** Set once the publish is durable; its PUBACK goes out when all before it are too. */
  isDurable = false;

  constructor(private readonly acks: DeferredAcks, private readonly s: ClientAcks, readonly messageId: number, private readonly release: () => void) {}

  durable(err?: Error | null): void {
    const s = this.s;
    if (err) {
      // Not durable: no PUBACK for it nor for anything after it; the sender resends on reconnect.
      s.pending = [];
      s.held = [];
      s.client.close();
      return;
    }
    this.isDurable = true;
    if (s.pending[0] === this) this.acks.markReady(s);
  }

  admit(): void {
    if (this.acks.underLimit(this.s)) this.release();
    else this.s.held.push(this.release);
  }
}

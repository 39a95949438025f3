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
 * - in the order the publishes arrived, per client (MQTT-4.6.0-2);
 * - never before the store said durable; a store failure closes the
 *   connection (no PUBACK: the sender keeps the reading and resends it);
 * - with backpressure: past `limit` unacknowledged publishes, aedes is
 *   released only as acknowledgements go out, so a flooding client stops
 *   being read, as before. A refused publish counts too: the ingest calls it
 *   durable once its refusals are kept (audit D7: acknowledged at once, a
 *   device sending nothing but refused readings was read as fast as the hub
 *   could go, and their refusal jobs and rejects piled up to gigabytes);
 * - and hub-wide: while the ingest has publishes of a client set aside
 *   (`waitingFor`: too many readings in flight, see ingest/ingestBudget.ts),
 *   aedes is not released for that client's later publishes, so it is not
 *   read further and TCP pushes back on it, while clients with room go on.
 */
import type { Client } from 'aedes';

/**
 * aedes' read loop (client.js `nextBatch`) counts the packets of its last read
 * whose handling is not done (`_parsingBatch`) and reads the socket again when
 * that reaches 0; but each 'readable' event of the socket counts down too. A
 * client whose publishes are each about one socket read (a gateway's 500
 * readings, 50–85 KB) is then read on as its data arrives, held callbacks or
 * not: 20 gateways with 64 publishes in flight each had nearly all of them
 * taken in. So while a client has callbacks held, its count is raised by this
 * much (nothing can count it down that far), and lowered again just before
 * the last held callback runs. If an aedes upgrade renames the field,
 * `holdReads` does nothing and holding is as leaky as aedes' own
 * (test/server/broker/deferredAcksHold.test.ts checks it against aedes).
 */
const READS_HELD = 1_000_000_000;

interface ClientAcks {
  client: Client;
  pending: AckTicket[];
  /** aedes callbacks held back while `pending` is at the limit. */
  held: Array<() => void>;
  /** aedes callbacks held back while the ingest has publishes of this client waiting; then moved to `held`. */
  waiting: Array<() => void>;
  /** Whether READS_HELD is added to aedes' count for this client (see holdReads). */
  readsHeld: boolean;
}

/** Stops or resumes aedes reading `s`'s socket (see READS_HELD). */
function holdReads(s: ClientAcks, hold: boolean): void {
  if (s.readsHeld === hold) return;
  s.readsHeld = hold;
  const loop = s.client as unknown as { _parsingBatch?: unknown };
  if (typeof loop._parsingBatch === 'number') loop._parsingBatch += hold ? READS_HELD : -READS_HELD;
}

export class DeferredAcks {
  private readonly clients = new WeakMap<Client, ClientAcks>();
  /** Clients with acknowledgements ready to write in this turn (written together, one write each). */
  private readonly ready = new Set<ClientAcks>();
  private flushQueued = false;

  /**
   * `limit`: unacknowledged publishes per client past which it is not read.
   * `waitingFor`: asked right after the ingest took a publish; null, or (the
   * ingest set publishes of this client aside for lack of room) a promise that
   * settles once they have all started: the client is not read until then.
   */
  constructor(private readonly limit: number, readonly waitingFor: (client: Client) => Promise<void> | null = () => null) {}

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
      state = { client, pending: [], held: [], waiting: [], readsHeld: false };
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

  /**
   * Holds `release` until the ingest's publishes of `s` that wait have all started
   * (`until` settles), then treats it as held by the limit.
   */
  holdWhileWaiting(s: ClientAcks, release: () => void, until: Promise<void>): void {
    holdReads(s, true);
    s.waiting.push(release);
    if (s.waiting.length > 1) return; // already watching this wait
    void until.then(() => {
      s.held.push(...s.waiting);
      s.waiting = [];
      this.markReady(s);
    });
  }

  /** `s`'s oldest pending publish is durable, or held callbacks may go: done after this turn's callbacks. */
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
    const done = s.pending.splice(0, n);
    const conn = (s.client as unknown as { conn?: { destroyed?: boolean; write(b: Buffer): boolean } }).conn;
    if (n > 0 && conn && !conn.destroyed && (s.client as unknown as { connected?: boolean }).connected !== false) {
      // PUBACK (MQTT 3.1.1 §3.4): 0x40, remaining length 2, packet identifier.
      const buf = Buffer.allocUnsafe(4 * n);
      done.forEach((p, i) => {
        buf[4 * i] = 0x40;
        buf[4 * i + 1] = 2;
        buf.writeUInt16BE(p.messageId, 4 * i + 2);
      });
      conn.write(buf);
    }
    while (s.held.length > 0 && s.pending.length - s.held.length < this.limit) {
      const release = s.held.shift()!;
      if (s.held.length === 0 && s.waiting.length === 0) holdReads(s, false);
      release();
    }
  }

  /** Holds aedes' callback of a publish past the limit (see AckTicket.admit). */
  holdOverLimit(s: ClientAcks, release: () => void): void {
    holdReads(s, true);
    s.held.push(release);
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
      s.waiting.length = 0;
      holdReads(s, false);
      s.client.close();
      return;
    }
    this.isDurable = true;
    if (s.pending[0] === this) this.acks.markReady(s);
  }

  admit(): void {
    // The ingest set this publish aside (one handled at once, a status, is durable already: the limit alone decides).
    const until = this.isDurable ? null : this.acks.waitingFor(this.s.client);
    if (until) {
      this.acks.holdWhileWaiting(this.s, this.release, until);
      return;
    }
    if (this.acks.underLimit(this.s)) this.release();
    else this.acks.holdOverLimit(this.s, this.release);
  }
}

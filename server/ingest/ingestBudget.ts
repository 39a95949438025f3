/**
 * How much the ingest holds between a publish arriving and its PUBACK,
 * across all clients, and who waits when that is too much.
 *
 * A publish may carry 500 readings (a gateway flushing its outbox, SPEC §2),
 * and each reading costs ~1–2 KiB of heap from parsing until its batch is
 * durable (the parsed object, the recorded statements, the batch's JSON).
 * Counting publishes per client (deferredAcks.ts) therefore bounds nothing
 * once hundreds of gateways replay at once: the audit of D3 saw 1–6 GB and a
 * fall sensor's PUBACK 5–40 s late behind them. So, hub-wide, by weight (what
 * the ingest says a publish costs: its readings, plus a little for the
 * publish itself):
 *
 * - a publish is parsed and handed to the store only while less than
 *   `maxWeight` is in flight; otherwise it waits here unparsed (its raw
 *   bytes, ~100 bytes a reading) and its client is not read further until
 *   all its waiting publishes have started (`waitingFor`, which DeferredAcks
 *   asks), so TCP pushes back on the sender and what waits here is about one
 *   socket read per client;
 * - waiting publishes start client by client in turn as readings become
 *   durable, up to `turnBytes` of payload a turn (deficit round robin): a
 *   gateway with 64 publishes queued does not go before one with 2, and a
 *   device's many small publishes start together (one PUBACK write for them,
 *   not one per turn);
 * - a light publish (at most `lightBytes`, from a client with less than
 *   `lightWeight` in flight and nothing waiting: a device's live reading)
 *   never waits, so an alarm sensor is not queued behind anyone's backlog:
 *   it waits in the store's queue behind about `maxWeight` at most;
 * - a client's publishes start in the order they arrived: one that has a
 *   publish waiting waits with every later one too.
 *
 * Pure bookkeeping (no I/O, no timers): the ingest starts what `next` gives.
 */

export interface IngestBudgetLimits {
  /** Weight in flight over which publishes wait (light ones excepted). */
  maxWeight: number;
  /** A client with less than this in flight may send light publishes at any time. */
  lightWeight: number;
  /** Largest publish (payload bytes) that counts as light. */
  lightBytes: number;
  /** Payload bytes a client's turn may start (at least one publish): one gateway publish, or many single readings. */
  turnBytes: number;
}

interface ClientLoad<T> {
  /** Weight of this client handed to the store and not yet durable (or failed). */
  inFlight: number;
  /** Publishes that arrived while there was no room, oldest first, with their payload bytes. */
  waiting: Array<{ publish: T; bytes: number }>;
  /** Payload bytes started in this client's current turn. */
  turnUsed: number;
  /** What `waitingFor` gave out, settled once `waiting` is empty. */
  started: { promise: Promise<void>; resolve: () => void } | null;
}

export class IngestBudget<K extends object, T> {
  private inFlight = 0;
  private waitingCount = 0;
  private readonly clients = new WeakMap<K, ClientLoad<T>>();
  /** Clients with a publish waiting, in the order they take turns. */
  private readonly turns: Array<ClientLoad<T>> = [];
  private turn = 0;

  constructor(private readonly limits: IngestBudgetLimits) {}

  /** Weight in flight, hub-wide. */
  get weightInFlight(): number {
    return this.inFlight;
  }

  /** Publishes waiting for room, hub-wide. */
  get publishesWaiting(): number {
    return this.waitingCount;
  }

  /** Whether a publish of `bytes` from `client` may start now; if not, `wait` keeps it. */
  mayStart(client: K, bytes: number): boolean {
    const c = this.clients.get(client);
    if (c && c.waiting.length > 0) return false;
    if (this.inFlight < this.limits.maxWeight && this.waitingCount === 0) return true;
    return bytes <= this.limits.lightBytes && (c?.inFlight ?? 0) < this.limits.lightWeight;
  }

  /** Keeps a publish of `bytes` that may not start yet; `next` gives it back when it is its client's turn and there is room. */
  wait(client: K, publish: T, bytes: number): void {
    const c = this.load(client);
    c.waiting.push({ publish, bytes });
    this.waitingCount++;
    if (c.waiting.length === 1) this.turns.push(c);
  }

  /**
   * Null when `client` has no publish waiting; otherwise a promise that
   * settles once all its waiting publishes have started. Its later publishes
   * would wait behind them: reading more from it until then only piles up bytes.
   */
  waitingFor(client: K): Promise<void> | null {
    const c = this.clients.get(client);
    if (!c || c.waiting.length === 0) return null;
    if (!c.started) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      c.started = { promise, resolve };
    }
    return c.started.promise;
  }

  /** A publish of `client` weighing `weight` goes to the store. */
  started(client: K, weight: number): void {
    this.load(client).inFlight += weight;
    this.inFlight += weight;
  }

  /** What `started` counted is durable, or failed. */
  finished(client: K, weight: number): void {
    const c = this.clients.get(client);
    if (c) c.inFlight -= weight;
    this.inFlight -= weight;
  }

  /** The next waiting publish to start, if there is room: client by client in turn, up to `turnBytes` each. */
  next(): T | undefined {
    if (this.waitingCount === 0 || this.inFlight >= this.limits.maxWeight) return undefined;
    const c = this.turns[this.turn]!;
    const { publish, bytes } = c.waiting.shift()!;
    this.waitingCount--;
    c.turnUsed += bytes;
    if (c.waiting.length === 0) {
      // Nothing left: out of the round (the next client moves up to the cursor).
      c.turnUsed = 0;
      this.turns.splice(this.turn, 1);
      c.started?.resolve();
      c.started = null;
    } else if (c.turnUsed >= this.limits.turnBytes) {
      c.turnUsed = 0;
      this.turn++;
    }
    if (this.turn >= this.turns.length) this.turn = 0;
    return publish;
  }

  private load(client: K): ClientLoad<T> {
    let c = this.clients.get(client);
    if (!c) {
      c = { inFlight: 0, waiting: [], turnUsed: 0, started: null };
      this.clients.set(client, c);
    }
    return c;
  }
}

/**
 * The ingest's hub-wide bound on what is in flight (ingestBudget.ts; weight:
 * readings, plus a little per publish): who starts at once, who waits, in what
 * order waiting publishes start, and when a waiting client may be read again.
 * Pure bookkeeping; the same rules run in a real hub in overload.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { IngestBudget } from '../../../server/ingest/ingestBudget.js';

const limits = { maxWeight: 1000, lightWeight: 4, lightBytes: 4096, turnBytes: 40_000 };
/** Payload bytes of a gateway publish of 500 readings: one is a whole turn. */
const BATCH_BYTES = 50_000;
const client = (name: string) => ({ name });

/** Starts what `next` gives while there is room, as the ingest does; answers the names. */
function startAll(b: IngestBudget<object, { c: object; id: string; weight: number }>): string[] {
  const started: string[] = [];
  for (let p = b.next(); p; p = b.next()) {
    b.started(p.c, p.weight);
    started.push(p.id);
  }
  return started;
}

describe('IngestBudget', () => {
  it('starts everything while under the cap, and counts weight in and out', () => {
    const b = new IngestBudget<object, string>(limits);
    const gw = client('gw');
    expect(b.mayStart(gw, 50_000)).toBe(true);
    b.started(gw, 500);
    expect(b.mayStart(gw, 50_000)).toBe(true);
    b.started(gw, 499);
    expect(b.weightInFlight).toBe(999);
    expect(b.mayStart(gw, 50_000)).toBe(true); // 999 < 1000: a last publish may overshoot by up to 500
    b.started(gw, 500);
    expect(b.mayStart(gw, 50_000)).toBe(false);
    b.finished(gw, 500);
    expect(b.weightInFlight).toBe(999);
    expect(b.mayStart(gw, 50_000)).toBe(true);
  });

  it('lets a light publish of a client with little in flight through over the cap, and nothing heavy', () => {
    const b = new IngestBudget<object, string>(limits);
    const gw = client('gw');
    const fall = client('fall');
    b.started(gw, 1000);
    expect(b.mayStart(fall, 200)).toBe(true);
    b.started(fall, 1);
    b.started(fall, 2);
    expect(b.mayStart(fall, 200)).toBe(true);
    b.started(fall, 1);
    expect(b.mayStart(fall, 200)).toBe(false); // 4 in flight: no longer light
    expect(b.mayStart(client('other'), 4097)).toBe(false); // larger than a reading may be
    expect(b.mayStart(gw, 200)).toBe(false); // the gateway itself holds 1,000
  });

  it('keeps a client\'s order: once one of its publishes waits, its later ones wait too, even light ones', () => {
    const b = new IngestBudget<object, { c: object; id: string; weight: number }>(limits);
    const gw = client('gw');
    b.started(gw, 1000);
    b.wait(gw, { c: gw, id: 'a', weight: 500 }, BATCH_BYTES);
    b.finished(gw, 1000);
    expect(b.weightInFlight).toBe(0);
    expect(b.mayStart(gw, 100)).toBe(false);
    b.wait(gw, { c: gw, id: 'b', weight: 1 }, 100);
    expect(startAll(b)).toEqual(['a', 'b']);
  });

  it('while anyone waits, a heavy publish of a client with nothing waiting queues too (no jumping the line)', () => {
    const b = new IngestBudget<object, { c: object; id: string; weight: number }>(limits);
    const a = client('a');
    const late = client('late');
    b.started(a, 1000);
    b.wait(a, { c: a, id: 'a1', weight: 500 }, BATCH_BYTES);
    b.finished(a, 600); // room, but `a1` has not been started yet
    expect(b.mayStart(late, 50_000)).toBe(false);
    expect(b.mayStart(client('device'), 100)).toBe(true); // light: never waits
  });

  it('starts waiting gateway publishes one per client in turn, while there is room', () => {
    const b = new IngestBudget<object, { c: object; id: string; weight: number }>({ ...limits, maxWeight: 1500 });
    const [x, y, z] = [client('x'), client('y'), client('z')];
    b.started(x, 1500);
    for (const id of ['x1', 'x2', 'x3', 'x4']) b.wait(x, { c: x, id, weight: 500 }, BATCH_BYTES);
    for (const id of ['y1', 'y2']) b.wait(y, { c: y, id, weight: 500 }, BATCH_BYTES);
    b.wait(z, { c: z, id: 'z1', weight: 500 }, BATCH_BYTES);
    expect(b.publishesWaiting).toBe(7);
    expect(startAll(b)).toEqual([]);
    b.finished(x, 1500);
    expect(startAll(b)).toEqual(['x1', 'y1', 'z1']);
    b.finished(x, 500);
    b.finished(y, 500);
    expect(startAll(b)).toEqual(['x2', 'y2']);
    b.finished(z, 500);
    b.finished(x, 500);
    b.finished(y, 500);
    expect(startAll(b)).toEqual(['x3', 'x4']);
    expect(b.publishesWaiting).toBe(0);
    expect(b.next()).toBeUndefined();
  });

  it('starts a device\'s small publishes together in its turn (up to turnBytes), then the next client\'s', () => {
    const b = new IngestBudget<object, { c: object; id: string; weight: number }>({ ...limits, maxWeight: 10_000 });
    const [dev, gw] = [client('dev'), client('gw')];
    b.started(gw, 10_000);
    for (let i = 0; i < 5; i++) b.wait(dev, { c: dev, id: `d${i}`, weight: 4 }, 120);
    b.wait(gw, { c: gw, id: 'g1', weight: 503 }, BATCH_BYTES);
    b.wait(gw, { c: gw, id: 'g2', weight: 503 }, BATCH_BYTES);
    for (let i = 5; i < 8; i++) b.wait(dev, { c: dev, id: `d${i}`, weight: 4 }, 120);
    b.finished(gw, 10_000);
    expect(startAll(b)).toEqual(['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'g1', 'g2']);
  });

  it('ends a turn once it has started turnBytes, mid-way through a client\'s small publishes', () => {
    const b = new IngestBudget<object, { c: object; id: string; weight: number }>({ ...limits, maxWeight: 10_000, turnBytes: 250 });
    const [x, y] = [client('x'), client('y')];
    b.started(x, 10_000);
    for (let i = 0; i < 4; i++) b.wait(x, { c: x, id: `x${i}`, weight: 4 }, 100);
    for (let i = 0; i < 2; i++) b.wait(y, { c: y, id: `y${i}`, weight: 4 }, 100);
    b.finished(x, 10_000);
    expect(startAll(b)).toEqual(['x0', 'x1', 'x2', 'y0', 'y1', 'x3']);
  });

  it('a client that comes to wait later joins the round at its end', () => {
    const b = new IngestBudget<object, { c: object; id: string; weight: number }>({ ...limits, maxWeight: 500 });
    const [x, y, z] = [client('x'), client('y'), client('z')];
    b.started(x, 500);
    b.wait(x, { c: x, id: 'x1', weight: 500 }, BATCH_BYTES);
    b.wait(x, { c: x, id: 'x2', weight: 500 }, BATCH_BYTES);
    b.wait(y, { c: y, id: 'y1', weight: 500 }, BATCH_BYTES);
    b.finished(x, 500);
    expect(startAll(b)).toEqual(['x1']);
    b.wait(z, { c: z, id: 'z1', weight: 500 }, BATCH_BYTES);
    b.finished(x, 500);
    expect(startAll(b)).toEqual(['y1']);
    b.finished(y, 500);
    expect(startAll(b)).toEqual(['z1']); // x had its turn in this round, z not yet
    b.finished(z, 500);
    expect(startAll(b)).toEqual(['x2']);
  });

  it('tells when a waiting client may be read again: once all its waiting publishes have started', async () => {
    const b = new IngestBudget<object, { c: object; id: string; weight: number }>({ ...limits, maxWeight: 500 });
    const gw = client('gw');
    expect(b.waitingFor(gw)).toBeNull();
    b.started(gw, 500);
    b.wait(gw, { c: gw, id: 'p1', weight: 500 }, BATCH_BYTES);
    const until = b.waitingFor(gw)!;
    expect(until).toBeInstanceOf(Promise);
    b.wait(gw, { c: gw, id: 'p2', weight: 500 }, BATCH_BYTES);
    expect(b.waitingFor(gw)).toBe(until); // one wait, one promise
    let settled = false;
    void until.then(() => (settled = true));
    b.finished(gw, 500);
    expect(startAll(b)).toEqual(['p1']);
    await Promise.resolve();
    expect(settled).toBe(false);
    b.finished(gw, 500);
    expect(startAll(b)).toEqual(['p2']);
    await Promise.resolve();
    expect(settled).toBe(true);
    expect(b.waitingFor(gw)).toBeNull();
  });
});

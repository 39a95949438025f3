/** The outbox on its own: order, the bound that never drops a fall or an SOS, persistence, and kill -9. */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Outbox, type NewEntry } from '../../gateway/outbox.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'anxin-outbox-'));
  dirs.push(d);
  return d;
}

let n = 0;
function entry(type: string, deviceId = type === 'fall' ? 'fall-0001' : type === 'sos' ? 'sos-0001' : 'bp-0001'): NewEntry {
  const readingId = `r-${++n}`;
  return { deviceId, readingId, type, body: JSON.stringify({ type, id: readingId, ts: 1 }) };
}

describe('Outbox', () => {
  it('is on disk in WAL mode with a full fsync on every commit', () => {
    const dir = tempDir();
    Outbox.open(dir, { maxReadings: 10 }).close();
    const db = new Database(join(dir, 'outbox.sqlite'));
    // synchronous is per connection; check what the outbox's own connection uses by opening it again.
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    const outbox = Outbox.open(dir, { maxReadings: 10 });
    const sync = (outbox as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true });
    expect(sync).toBe(2); // FULL
    outbox.close();
  });

  it('gives entries back in the order they came, and forgets only acknowledged ones', () => {
    const outbox = Outbox.open(tempDir(), { maxReadings: 10_000 });
    const entries = Array.from({ length: 1000 }, (_, i) => entry(['blood_pressure', 'glucose', 'fall'][i % 3]!));
    for (let i = 0; i < entries.length; i += 100) outbox.enqueue(entries.slice(i, i + 100));
    expect(outbox.depth).toBe(1000);
    const all = outbox.peek(0, 2000);
    expect(all.map((e) => e.readingId)).toEqual(entries.map((e) => e.readingId));
    expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((a, b) => a - b));
    // Acknowledgements may arrive for any batch; the rest keeps its order.
    outbox.ack(all.slice(100, 200).map((e) => e.seq));
    outbox.ack(all.slice(0, 100).map((e) => e.seq));
    outbox.ack([all[0]!.seq]); // twice: ignored
    expect(outbox.depth).toBe(800);
    expect(outbox.peek(0, 1)[0]!.readingId).toBe(entries[200]!.readingId);
    expect(outbox.peek(all[499]!.seq, 1)[0]!.readingId).toBe(entries[500]!.readingId);
    outbox.close();
  });

  it('says duplicate for a (device, id) already waiting', () => {
    const outbox = Outbox.open(tempDir(), { maxReadings: 10 });
    const e = entry('blood_pressure');
    expect(outbox.enqueue([e])).toEqual(['queued']);
    expect(outbox.enqueue([e, { ...e, deviceId: 'bp-0002' }])).toEqual(['duplicate', 'queued']);
    expect(outbox.depth).toBe(2);
    outbox.close();
  });

  it('drops the oldest ordinary readings when full, never a fall or an SOS, and counts what it dropped', () => {
    const outbox = Outbox.open(tempDir(), { maxReadings: 10 });
    const first = [entry('fall'), entry('blood_pressure'), entry('sos'), entry('heartbeat'), entry('glucose')];
    outbox.enqueue(first);
    const more = Array.from({ length: 8 }, () => entry('glucose', 'glu-0001'));
    expect(outbox.enqueue(more)).toEqual(Array(8).fill('queued'));
    expect(outbox.depth).toBe(10);
    expect(outbox.dropped).toBe(3);
    const ids = outbox.peek(0, 100).map((e) => e.readingId);
    // The heartbeat went first, then the oldest of the rest; the fall and the SOS stayed, in their place.
    expect(ids).toEqual([first[0]!.readingId, first[2]!.readingId, ...more.map((e) => e.readingId)]);

    // Nothing but emergencies: the bound gives way rather than lose one.
    const emergencies = Array.from({ length: 12 }, (_, i) => entry(i % 2 ? 'fall' : 'sos'));
    expect(outbox.enqueue(emergencies)).toEqual(Array(12).fill('queued'));
    expect(outbox.depth).toBe(14);
    expect(outbox.peek(0, 100).every((e) => e.type === 'fall' || e.type === 'sos')).toBe(true);
    expect(outbox.dropped).toBe(11);
    // An ordinary reading now is itself the oldest droppable one.
    expect(outbox.enqueue([entry('glucose')])).toEqual(['dropped']);
    expect(outbox.depth).toBe(14);
    expect(outbox.dropped).toBe(12);
    outbox.close();
  });

  it('keeps entries, counters, state and the id counter across a reopen', () => {
    const dir = tempDir();
    let outbox = Outbox.open(dir, { maxReadings: 3, now: () => 1_000 });
    const id1 = outbox.nextReadingId('bp-0001');
    expect(id1).toMatch(/^bp-0001-[0-9a-z]{8}-1$/);
    outbox.enqueue([{ ...entry('blood_pressure'), readingId: id1 }, entry('fall'), entry('glucose'), entry('glucose')], { key: 'z2m:radar', value: { fall_down_status: 'fall' } });
    outbox.reject('bp-0001', 'not-there');
    const before = outbox.peek(0, 10);
    outbox.close();

    outbox = Outbox.open(dir, { maxReadings: 3, now: () => 5_000 });
    expect(outbox.peek(0, 10)).toEqual(before);
    expect(outbox.depth).toBe(3);
    expect(outbox.dropped).toBe(1);
    expect(outbox.rejected).toBe(1);
    expect(outbox.state('z2m:radar')).toEqual({ fall_down_status: 'fall' });
    // The counter continues from where it was, with the same prefix.
    expect(outbox.nextReadingId('bp-0001')).toBe(id1.replace(/-1$/, '-2'));
    expect(outbox.has('bp-0001', id1)).toBe(false); // dropped by the bound
    outbox.close();
  });

  it('starts a new outbox\'s ids with a random prefix, and keeps ids within 64 characters', () => {
    const outbox = Outbox.open(tempDir(), { maxReadings: 10, now: () => 1_718_000_000_000 });
    const first = outbox.nextReadingId('glu-0001');
    expect(first).toMatch(/^glu-0001-[0-9a-z]{8}-1$/);
    const long = 'd'.repeat(64);
    const id = outbox.nextReadingId(long);
    expect(id).toHaveLength(64);
    expect(id.endsWith(`${first.slice('glu-0001'.length)}`.replace(/-1$/, '-2'))).toBe(true);
    outbox.close();
  });

  it('loses no committed reading when its process is killed with -9', async () => {
    const dir = tempDir();
    const writer = fileURLToPath(new URL('./fixtures/outboxWriter.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const acknowledged = await new Promise<string[]>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        const lines = out.split('\n').slice(0, -1);
        if (lines.length >= 500 && child.exitCode === null && !child.killed) {
          child.kill('SIGKILL');
          resolve(lines);
        }
      });
      child.once('exit', (code) => reject(new Error(`writer exited (${code}) before it was killed: ${err}`)));
    });
    await new Promise((r) => child.once('exit', r));
    expect(child.signalCode).toBe('SIGKILL');
    // Lines printed after the kill decision may have arrived too; all of them were committed.
    const printed = out.split('\n').filter((l) => l !== '');
    expect(printed.length).toBeGreaterThanOrEqual(acknowledged.length);

    const outbox = Outbox.open(dir, { maxReadings: 1_000_000 });
    const stored = outbox.peek(0, 1_000_000).map((e) => e.readingId);
    // Every acknowledged id is there, in order, and nothing else but at most the one being committed.
    expect(stored.slice(0, printed.length)).toEqual(printed);
    expect(stored.length - printed.length).toBeLessThanOrEqual(1);
    expect(outbox.depth).toBe(stored.length);
    // The counter survives too: a new id is not one already used.
    const next = outbox.nextReadingId('bp-0001');
    expect(stored).not.toContain(next);
    outbox.close();
  });
});

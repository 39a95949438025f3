/**
 * The outbox where the disk or the clock lets it down: a damaged or foreign
 * `outbox.sqlite` (an SD card after a power cut) is set aside and the gateway
 * starts; ids of a fresh outbox never repeat an earlier one's, whatever the
 * clock; a full outbox gives up heartbeats and motion before a doctor's readings.
 */
import Database from 'better-sqlite3';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../gateway/config.js';
import { buildGateway } from '../../gateway/gateway.js';
import { Outbox, type NewEntry } from '../../gateway/outbox.js';
import { freePort } from '../helpers/process.js';
import { LineClient, spawnGateway, stopChild, writeGatewayConfig, type GatewayProcess } from './helpers.js';

const dirs: string[] = [];
const children: GatewayProcess[] = [];
afterAll(async () => {
  for (const c of children) await stopChild(c);
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'anxin-outbox-safety-'));
  dirs.push(d);
  return d;
}

const entry = (deviceId: string, readingId: string, type: string): NewEntry =>
  ({ deviceId, readingId, type, body: JSON.stringify({ type, id: readingId, ts: Date.now(), pad: 'y'.repeat(300) }) });

/** An outbox of 200 blood-pressure readings with one page overwritten by garbage. */
function damagedOutbox(dir: string, page: number): void {
  const o = Outbox.open(dir, { maxReadings: 1000 });
  for (let i = 0; i < 200; i++) o.enqueue([entry('bp-0001', `r-${i}`, 'blood_pressure')]);
  o.close();
  const fd = openSync(join(dir, 'outbox.sqlite'), 'r+');
  writeSync(fd, Buffer.alloc(4096, 0xab), 0, 4096, 4096 * (page - 1));
  closeSync(fd);
}

const asideFiles = (dir: string) => readdirSync(dir).filter((f) => /^outbox\.sqlite\.corrupt-[\dT-]+Z$/.test(f));

describe('damaged outbox file', () => {
  it('a file that is not a database is moved aside and a fresh outbox starts', () => {
    const dir = tempDir();
    const garbage = 'this is not a database'.repeat(300);
    writeFileSync(join(dir, 'outbox.sqlite'), garbage);
    const outbox = Outbox.open(dir, { maxReadings: 10 });
    expect(outbox.replacement).toMatchObject({ salvaged: 0, reason: expect.stringMatching(/not a database/) });
    expect(outbox.replaced).toBe(1);
    expect(outbox.depth).toBe(0);
    const [aside] = asideFiles(dir);
    expect(readFileSync(join(dir, aside!), 'utf8')).toBe(garbage); // kept for inspection, untouched
    expect(outbox.enqueue([entry('fall-0001', 'f-1', 'fall')])).toEqual(['queued']);
    outbox.close();
    // The count survives a reopen of the fresh outbox.
    const again = Outbox.open(dir, { maxReadings: 10 });
    expect(again.replacement).toBeNull();
    expect(again.replaced).toBe(1);
    expect(again.has('fall-0001', 'f-1')).toBe(true);
    again.close();
  });

  it('a damaged database fails quick_check, is moved aside, and what is still readable is kept', () => {
    const dir = tempDir();
    damagedOutbox(dir, 3);
    const outbox = Outbox.open(dir, { maxReadings: 1000 });
    expect(outbox.replacement).toMatchObject({ reason: expect.stringMatching(/quick_check/) });
    expect(outbox.replaced).toBe(1);
    expect(asideFiles(dir)).toHaveLength(1);
    // Salvaged in order, ids intact (how many depends on which page was hit).
    const ids = outbox.peek(0, 1000).map((e) => e.readingId);
    expect(ids.length).toBe(outbox.replacement!.salvaged);
    expect(ids).toEqual([...ids].sort((a, b) => Number(a.slice(2)) - Number(b.slice(2))));
    const check = (outbox as unknown as { db: Database.Database }).db.pragma('quick_check', { simple: true });
    expect(check).toBe('ok');
    outbox.close();
  });

  it('the gateway starts on a damaged outbox, logs an error, takes a fall, and its status says so', async () => {
    const dir = tempDir();
    damagedOutbox(dir, 5);
    const inputPort = await freePort();
    const config = writeGatewayConfig(dir, {
      hub: `mqtt://127.0.0.1:${await freePort()}`, homeId: 'wh-0001', username: 'gw-0001', password: 'x', dataDir: dir,
      input: { port: inputPort, stdin: false }, localAlarm: { command: 'true' },
    });
    const gateway = await spawnGateway(config);
    children.push(gateway);
    const logged = await gateway.waitForLog('outbox file was damaged; moved aside and replaced by a fresh one');
    expect(logged).toMatchObject({ level: 50, replaced: 1, movedTo: expect.stringContaining('outbox.sqlite.corrupt-') });
    const lines = await LineClient.open(inputPort);
    expect((await lines.send([{ device: 'fall-0001', type: 'fall' }]))[0]).toMatchObject({ ok: true });
    lines.close();
    expect(await stopChild(gateway)).toBe(0);

    // What the retained gateway/status carries (published on every connect).
    const built = buildGateway(parseGatewayConfig({ hub: 'mqtt://127.0.0.1:1', homeId: 'wh-0001', username: 'gw-0001', password: 'x', dataDir: dir, input: { port: 0, stdin: false } }), { log: pino({ level: 'silent' }) });
    const status = (built.uplink as unknown as { currentStatus: () => Record<string, unknown> }).currentStatus();
    expect(status).toMatchObject({ online: true, outboxReplaced: 1 });
    await built.stop();
  }, 30_000);
});

describe('reading ids', () => {
  it('a fresh outbox never repeats the ids of an earlier one, even when the clock reads 1970 both times', () => {
    const at1970 = () => 45_000;
    const lives = [tempDir(), tempDir()].map((dir) => {
      const o = Outbox.open(dir, { maxReadings: 10, now: at1970 });
      const ids = Array.from({ length: 300 }, () => o.nextReadingId('fall-0001'));
      o.close();
      return ids;
    });
    expect(lives[0]!.filter((id) => lives[1]!.includes(id))).toEqual([]);
    for (const ids of lives) {
      expect(ids[0]).toMatch(/^fall-0001-[0-9a-z]{8}-1$/); // readable: device, outbox, counter
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  it('keeps the prefix and counter of an outbox across a reopen, and ids within 64 characters', () => {
    const dir = tempDir();
    let o = Outbox.open(dir, { maxReadings: 10 });
    const first = o.nextReadingId('bp-0001');
    o.enqueue([{ ...entry('bp-0001', first, 'blood_pressure') }]);
    o.close();
    o = Outbox.open(dir, { maxReadings: 10 });
    const prefix = first.split('-')[2]!;
    expect(o.nextReadingId('bp-0001')).toBe(`bp-0001-${prefix}-2`);
    const long = o.nextReadingId('d'.repeat(64));
    expect(long).toHaveLength(64);
    expect(long.endsWith(`-${prefix}-3`)).toBe(true);
    o.close();
  });
});

describe('outbox bound', () => {
  it('drops heartbeats first, then motion, then the oldest of the rest, never a fall or an SOS', () => {
    const o = Outbox.open(tempDir(), { maxReadings: 6 });
    o.enqueue([entry('bp-0001', 'bp-1', 'blood_pressure'), entry('glu-0001', 'g-1', 'glucose'), entry('fall-0001', 'f-1', 'fall')]);
    o.enqueue([entry('pir-0001', 'm-1', 'motion'), entry('pir-0001', 'h-1', 'heartbeat'), entry('pir-0001', 'm-2', 'motion'), entry('pir-0001', 'h-2', 'heartbeat')]);
    // Seven entries, bound six: the oldest heartbeat went, not the older blood pressure.
    expect(o.peek(0, 100).map((e) => e.readingId)).toEqual(['bp-1', 'g-1', 'f-1', 'm-1', 'm-2', 'h-2']);
    o.enqueue([entry('sos-0001', 's-1', 'sos'), entry('pir-0001', 'm-3', 'motion')]);
    // The last heartbeat, then the oldest motion.
    expect(o.peek(0, 100).map((e) => e.readingId)).toEqual(['bp-1', 'g-1', 'f-1', 'm-2', 's-1', 'm-3']);
    expect(o.enqueue([entry('bp-0001', 'bp-2', 'blood_pressure'), entry('bp-0001', 'bp-3', 'blood_pressure'), entry('bp-0001', 'bp-4', 'blood_pressure')])).toEqual(['queued', 'queued', 'queued']);
    // No heartbeat or motion left: the oldest of the rest, never the fall or the SOS.
    expect(o.peek(0, 100).map((e) => e.readingId)).toEqual(['g-1', 'f-1', 's-1', 'bp-2', 'bp-3', 'bp-4']);
    expect(o.dropped).toBe(6);
    o.close();
  });
});

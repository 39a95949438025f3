/**
 * The checkpointer thread (checkpointThread.ts) on a real SQLite file: with a
 * writer thread, the WAL is copied back into the database file beside the
 * writer, and no connection that commits checkpoints at SQLite's default of
 * 1,000 pages any more.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { WAL_CAP_PAGES } from '../../../server/store/checkpointer.js';
import { GroupCommit } from '../../../server/store/groupCommit.js';
import { openDatabase, type Db } from '../../../server/store/sqliteDb.js';

let dir: string;
let db: Db;
let gc: GroupCommit | null = null;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'anxin-ckpt-'));
  db = openDatabase(dir);
  db.exec('CREATE TABLE scratch (k INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT');
});

afterEach(async () => {
  await gc?.close();
  gc = null;
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const file = () => join(dir, 'anxin.sqlite');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ~6 MiB in 30 recorded batches: past the default autocheckpoint, far below the writer's. */
async function writeSome(writer: GroupCommit): Promise<void> {
  const ins = writer.statement('INSERT INTO scratch (k, v) VALUES (?, ?)');
  const row = 'x'.repeat(2000);
  for (let b = 0; b < 30; b++) {
    await writer.runRecorded(() => {
      for (let i = 0; i < 100; i++) ins.run(b * 100 + i, row);
    });
  }
}

it('copies the WAL into the database file on its own thread while the writer thread writes', async () => {
  gc = new GroupCommit(db, { thread: true });
  expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(WAL_CAP_PAGES);
  const before = statSync(file()).size;
  await writeSome(gc);
  // Nothing here checkpoints (the writer would only past WAL_CAP_PAGES): the thread must have.
  const until = Date.now() + 5000;
  while (statSync(file()).size < before + 5 * 2 ** 20 && Date.now() < until) await sleep(50);
  expect(statSync(file()).size).toBeGreaterThan(before + 5 * 2 ** 20);
  // And what it copied is the committed data, as a fresh connection reads it.
  const reader = new Database(file(), { readonly: true });
  expect(reader.prepare('SELECT count(*) AS n FROM scratch').get()).toEqual({ n: 3000 });
  reader.close();
});

it('is not started without a writer thread, where SQLite checkpoints in the commit as usual', async () => {
  gc = new GroupCommit(db, { thread: false });
  expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
});

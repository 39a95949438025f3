/**
 * Group commit batches bounded by weight (groupCommit.ts `maxBatchWeight`):
 * a queue of gateway publishes of 500 readings each is written in batches of
 * a bounded number of readings, not in one, in queue order, every caller told
 * after its own commit. On a real SQLite file, with and without the writer thread.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCommit, MAX_BATCH_WEIGHT, type GroupCommitOptions } from '../../../server/store/groupCommit.js';
import { openDatabase, type Db } from '../../../server/store/sqliteDb.js';

let dir: string;
let db: Db;
let reader: Database.Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'anxin-'));
  db = openDatabase(dir);
  db.exec('CREATE TABLE scratch (k TEXT PRIMARY KEY, v INTEGER NOT NULL) STRICT');
  reader = new Database(join(dir, 'anxin.sqlite'), { readonly: true });
});

afterEach(() => {
  reader.close();
  if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

function setup(opts: GroupCommitOptions) {
  const commits: number[] = [];
  const gc = new GroupCommit(db, { ...opts, onCommit: (_s, jobs) => commits.push(jobs), onError: (err) => { throw err; } });
  const ins = gc.statement('INSERT INTO scratch (k, v) VALUES (?, ?)');
  /** A recorded job writing `rows` rows, of that weight; resolves with the rows committed when it was told. */
  const job = (name: string, rows: number, weight = rows) => new Promise<number>((resolve, reject) => gc.enqueueRecorded(
    () => { for (let i = 0; i < rows; i++) ins.run(`${name}-${i}`, i); },
    (err) => (err ? reject(err) : resolve((reader.prepare('SELECT count(*) AS n FROM scratch').get() as { n: number }).n)),
    weight,
  ));
  return { gc, commits, job };
}

describe('GroupCommit batch weight', () => {
  it('defaults to a bound of a few hundred milliseconds of recording', () => {
    expect(MAX_BATCH_WEIGHT).toBeGreaterThanOrEqual(500);
    expect(MAX_BATCH_WEIGHT).toBeLessThanOrEqual(4000);
  });

  for (const thread of [false, true]) {
    it(`cuts batches at the weight, in queue order (writer thread: ${thread})`, async () => {
      const { gc, commits, job } = setup({ thread, maxBatchWeight: 1000 });
      // Seven gateway publishes of 500 readings, then a device's single reading.
      const answers = [...Array.from({ length: 7 }, (_, i) => job(`gw${i}`, 500)), job('dev', 1)];
      const seenAt = await Promise.all(answers);
      expect(commits).toEqual([2, 2, 2, 2]);
      // Each caller heard of its commit once its own batch was in, never before (with the
      // thread, the next batch may be in too by then).
      const own = [1000, 1000, 2000, 2000, 3000, 3000, 3501, 3501];
      if (thread) seenAt.forEach((n, i) => expect(n).toBeGreaterThanOrEqual(own[i]!));
      else expect(seenAt).toEqual(own);
      await gc.close();
    });
  }

  it('writes a job heavier than the bound alone, and still takes the jobs behind it next', async () => {
    const { gc, commits, job } = setup({ maxBatchWeight: 100 });
    await Promise.all([job('big', 300), job('a', 1), job('b', 1)]);
    expect(commits).toEqual([1, 2]);
    await gc.close();
  });

  it('keeps the job count bound for light jobs (weight 1 each)', async () => {
    const { gc, commits, job } = setup({ maxBatch: 3, maxBatchWeight: 1000 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => job(k, 1)));
    expect(commits).toEqual([3, 2]);
    await gc.close();
  });

  it('counts a job without a stated weight as 1', async () => {
    const { gc, commits } = setup({ maxBatchWeight: 2 });
    const ins = gc.statement('INSERT INTO scratch (k, v) VALUES (?, ?)');
    await Promise.all(['a', 'b', 'c'].map((k) => gc.runRecorded(() => { for (let i = 0; i < 5; i++) ins.run(`${k}${i}`, i); })));
    expect(commits).toEqual([2, 1]);
    await gc.close();
  });
});

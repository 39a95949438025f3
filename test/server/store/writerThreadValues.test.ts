/**
 * The writer thread writes exactly what a recorded job recorded: the same
 * rows, value for value, as the event loop writes without a thread (the
 * hub runs with the thread, most tests without it).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCommit } from '../../../server/store/groupCommit.js';
import { openDatabase, type Db } from '../../../server/store/sqliteDb.js';

let dir: string;
const open: Db[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'anxin-'));
});

afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Rows a recorded job writes through a GroupCommit with or without the writer thread, as a second connection reads them. */
async function rowsWritten(thread: boolean): Promise<unknown[]> {
  const sub = join(dir, thread ? 'thread' : 'loop');
  const db = openDatabase(sub);
  open.push(db);
  db.exec('CREATE TABLE scratch (n INTEGER PRIMARY KEY, a ANY, b ANY, c ANY)');
  const errors: Error[] = [];
  const gc = new GroupCommit(db, { thread, onError: (err) => errors.push(err) });
  const positional = gc.statement('INSERT INTO scratch (n, a, b, c) VALUES (?, ?, ?, ?)');
  const named = gc.statement('INSERT INTO scratch (n, a, b, c) VALUES (@n, @a, @b, @c)');
  try {
    await gc.runRecorded(() => {
      // An alert's wording: a batch holding it is not Latin-1 as a whole.
      positional.run(1, '高血压危象 182/95 mmHg', 'Fall · 客厅 🛏', 1.5);
      positional.run(2, Number.MAX_SAFE_INTEGER, -0.25, null);
      // An optional field left undefined is NULL, as better-sqlite3 binds it on the event loop.
      positional.run(3, undefined, 'x', 0);
      named.run({ n: 4, a: 'y', b: undefined, c: 7 });
    });
  } finally {
    await gc.close();
  }
  expect(errors).toEqual([]);
  const reader = new Database(join(sub, 'anxin.sqlite'), { readonly: true });
  open.push(reader);
  return reader.prepare('SELECT n, a, typeof(a) AS ta, b, typeof(b) AS tb, c, typeof(c) AS tc FROM scratch ORDER BY n').all();
}

describe('writer thread', () => {
  it('writes what the event loop would write, value for value', async () => {
    const onLoop = await rowsWritten(false);
    const onThread = await rowsWritten(true);
    expect(onLoop).toEqual([
      { n: 1, a: '高血压危象 182/95 mmHg', ta: 'text', b: 'Fall · 客厅 🛏', tb: 'text', c: 1.5, tc: 'real' },
      { n: 2, a: Number.MAX_SAFE_INTEGER, ta: 'integer', b: -0.25, tb: 'real', c: null, tc: 'null' },
      { n: 3, a: null, ta: 'null', b: 'x', tb: 'text', c: 0, tc: 'integer' },
      { n: 4, a: 'y', ta: 'text', b: null, tb: 'null', c: 7, tc: 'integer' },
    ]);
    expect(onThread).toEqual(onLoop);
  });
});

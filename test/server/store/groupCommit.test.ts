/** Group commit on a real SQLite file, and the schema migrations that open it. */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCommit, PerBatch, type Done, type GroupCommitOptions, type Work } from '../../../server/store/groupCommit.js';
import { MIGRATIONS } from '../../../server/store/migrations.js';
import { migrate, openDatabase, type Db } from '../../../server/store/sqliteDb.js';

let dir: string;
const open: Db[] = [];

function track(db: Db): Db {
  open.push(db);
  return db;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'anxin-'));
});

afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  let db: Db;
  /** A second connection: sees only what is committed. */
  let reader: Db;

  beforeEach(() => {
    db = track(openDatabase(dir));
    db.exec('CREATE TABLE scratch (k TEXT PRIMARY KEY, v INTEGER NOT NULL) STRICT');
    reader = track(new Database(join(dir, 'anxin.sqlite'), { readonly: true }));
  });

  const committed = () => (reader.prepare('SELECT k, v FROM scratch ORDER BY rowid').all() as { k: string; v: number }[]).map((r) => `${r.k}=${r.v}`);

  function setup(opts: GroupCommitOptions = {}) {
    const commits: number[] = [];
    const errors: Error[] = [];
    const gc = new GroupCommit(db, {
      ...opts,
      onCommit: (seconds, jobs) => {
        expect(seconds).toBeGreaterThanOrEqual(0);
        commits.push(jobs);
      },
      onError: (err) => errors.push(err),
    });
    return { gc, commits, errors };
  }

  const insert = (k: string, v: number): Work<number> => (d) => Number(d.prepare('INSERT INTO scratch (k, v) VALUES (?, ?)').run(k, v).lastInsertRowid);

  /** Enqueues and answers a promise of what `done` was told, plus what was committed when it was told. */
  function enqueue<T>(gc: GroupCommit, work: Work<T>, log?: string[]) {
    return new Promise<{ err: Error | null; result: T | undefined; seen: string[] }>((resolve) => {
      const done: Done<T> = (err, result) => {
        log?.push(String(result ?? err?.message));
        resolve({ err, result, seen: committed() });
      };
      gc.enqueue(work, done);
    });
  }

  it('commits the jobs of one tick in one transaction', async () => {
    const { gc, commits } = setup();
    const answers = ['a', 'b', 'c', 'd', 'e'].map((k, i) => enqueue(gc, insert(k, i)));
    expect(gc.pending).toBe(5);
    await Promise.all(answers);
    expect(commits).toEqual([5]);
    expect(gc.pending).toBe(0);
    expect(committed()).toEqual(['a=0', 'b=1', 'c=2', 'd=3', 'e=4']);
  });

  it('commits jobs of different ticks in different transactions', async () => {
    const { gc, commits } = setup();
    const first = [enqueue(gc, insert('a', 1)), enqueue(gc, insert('b', 2))];
    await nextTick();
    await nextTick();
    const second = [enqueue(gc, insert('c', 3))];
    await Promise.all([...first, ...second]);
    expect(commits).toEqual([2, 1]);
  });

  it('tells each caller only after the commit, in order, with its result', async () => {
    const { gc } = setup();
    const log: string[] = [];
    const answers = ['a', 'b', 'c'].map((k, i) => enqueue(gc, insert(k, i), log));
    expect(log).toEqual([]);
    expect(committed()).toEqual([]);
    const told = await Promise.all(answers);
    expect(log).toEqual(['1', '2', '3']);
    for (const t of told) {
      expect(t.err).toBeNull();
      // Every row of the transaction is visible to another connection when any caller hears.
      expect(t.seen).toEqual(['a=0', 'b=1', 'c=2']);
    }
    expect(told.map((t) => t.result)).toEqual([1, 2, 3]);
    expect(db.inTransaction).toBe(false);
  });

  it.each([
    [3, 7, [3, 3, 1]],
    [2, 4, [2, 2]],
    [10, 4, [4]],
    [1, 3, [1, 1, 1]],
  ])('with maxBatch %i splits %i jobs into transactions of %j', async (maxBatch, jobs, sizes) => {
    const { gc, commits } = setup({ maxBatch });
    const log: string[] = [];
    await Promise.all(Array.from({ length: jobs }, (_, i) => enqueue(gc, insert(`k${i}`, i), log)));
    expect(commits).toEqual(sizes);
    expect(log).toEqual(Array.from({ length: jobs }, (_, i) => String(i + 1)));
    expect(committed()).toHaveLength(jobs);
  });

  it('fails only the throwing job and commits the rest of its batch once', async () => {
    const { gc, errors } = setup();
    const log: string[] = [];
    const answers = [
      enqueue(gc, insert('a', 1), log),
      enqueue(gc, insert('b', 2), log),
      enqueue(gc, insert('a', 3), log), // duplicate key
      enqueue(gc, (d) => { insert('half', 4)(d); throw new Error('gave up halfway'); }, log),
      enqueue(gc, insert('c', 5), log),
    ];
    const told = await Promise.all(answers);
    expect(told.map((t) => t.err?.message ?? null)).toEqual([null, null, expect.stringMatching(/UNIQUE constraint failed/), 'gave up halfway', null]);
    expect(told[2]!.result).toBeUndefined();
    expect(committed()).toEqual(['a=1', 'b=2', 'c=5']);
    expect(errors).toHaveLength(1);
    expect(log).toHaveLength(5);
    expect(log[0]).not.toMatch(/constraint/);
    expect(log[2]).toMatch(/UNIQUE constraint failed/);
    expect(log[3]).toBe('gave up halfway');
  });

  it('keeps going after a failed batch', async () => {
    const { gc, commits } = setup();
    await Promise.all([enqueue(gc, () => { throw new Error('boom'); }), enqueue(gc, insert('a', 1))]);
    await Promise.all([enqueue(gc, insert('b', 2)), enqueue(gc, insert('c', 3))]);
    expect(commits).toEqual([2]);
    expect(committed()).toEqual(['a=1', 'b=2', 'c=3']);
  });

  it('commits work queued from a callback', async () => {
    const { gc } = setup();
    const inner = await new Promise<{ err: Error | null; seen: string[] }>((resolve) => {
      gc.enqueue(insert('a', 1), () => {
        gc.enqueue(insert('b', 2), (err) => resolve({ err, seen: committed() }));
      });
    });
    expect(inner).toEqual({ err: null, seen: ['a=1', 'b=2'] });
  });

  it('flushes pending work on close, then refuses more', async () => {
    const { gc, commits } = setup();
    const log: string[] = [];
    gc.enqueue(insert('a', 1), (err) => log.push(`a ${err?.message ?? 'ok'}`));
    gc.enqueue(insert('b', 2), (err) => log.push(`b ${err?.message ?? 'ok'}`));
    gc.close();
    expect(log).toEqual(['a ok', 'b ok']);
    expect(commits).toEqual([2]);
    expect(committed()).toEqual(['a=1', 'b=2']);
    expect(gc.pending).toBe(0);

    gc.enqueue(insert('c', 3), (err) => log.push(`c ${err?.message ?? 'ok'}`));
    expect(log).toEqual(['a ok', 'b ok', 'c store is closed']);
    await expect(gc.run(insert('d', 4))).rejects.toThrow('store is closed');
    await nextTick();
    expect(committed()).toEqual(['a=1', 'b=2']);
    expect(commits).toEqual([2]);
  });

  it('run() resolves with the result after the commit', async () => {
    const { gc, commits } = setup();
    const results = await Promise.all([
      gc.run(insert('a', 1)),
      gc.run((d) => (d.prepare('SELECT count(*) AS n FROM scratch').get() as { n: number }).n),
      gc.run(() => undefined),
    ]);
    expect(results).toEqual([1, 1, undefined]);
    expect(commits).toEqual([3]);
    expect(committed()).toEqual(['a=1']);
  });

  it('run() rejects with the error of a failing job and rolls its writes back', async () => {
    const { gc } = setup();
    const ok = gc.run(insert('a', 1));
    const bad = gc.run((d) => { insert('b', 2)(d); throw new RangeError('nope'); });
    await expect(bad).rejects.toThrow(RangeError);
    await expect(ok).resolves.toBe(1);
    expect(committed()).toEqual(['a=1']);
  });
});

describe.each([
  ['on the writer thread', true],
  ['on the event loop (no thread)', false],
])('GroupCommit, recorded jobs %s', (_label, thread) => {
  let db: Db;
  let reader: Db;
  let gc: GroupCommit;
  const commits: number[] = [];
  const errors: Error[] = [];

  beforeEach(() => {
    db = track(openDatabase(dir));
    db.exec('CREATE TABLE scratch (k TEXT PRIMARY KEY, v INTEGER NOT NULL) STRICT');
    reader = track(new Database(join(dir, 'anxin.sqlite'), { readonly: true }));
    commits.length = 0;
    errors.length = 0;
    gc = new GroupCommit(db, { thread, onCommit: (_s, jobs) => commits.push(jobs), onError: (err) => errors.push(err) });
  });

  afterEach(async () => {
    await gc.close();
  });

  const committed = () => (reader.prepare('SELECT k, v FROM scratch ORDER BY rowid').all() as { k: string; v: number }[]).map((r) => `${r.k}=${r.v}`);

  it('writes recorded jobs in one transaction and tells each caller after the commit, with the result of its JavaScript', async () => {
    const ins = gc.statement('INSERT INTO scratch (k, v) VALUES (?, ?)');
    const seen: string[][] = [];
    const answers = ['a', 'b', 'c'].map((k, i) => new Promise<number | undefined>((resolve) => gc.enqueueRecorded(() => {
      ins.run(k, i);
      return i * 10;
    }, (err, result) => {
      expect(err).toBeNull();
      seen.push(committed());
      resolve(result);
    })));
    expect(committed()).toEqual([]);
    expect(await Promise.all(answers)).toEqual([0, 10, 20]);
    expect(seen).toEqual([['a=0', 'b=1', 'c=2'], ['a=0', 'b=1', 'c=2'], ['a=0', 'b=1', 'c=2']]);
    expect(commits).toEqual([3]);
  });

  it('keeps queue order between recorded and direct jobs, a direct job seeing every recorded write before it', async () => {
    const ins = gc.statement('INSERT INTO scratch (k, v) VALUES (?, ?)');
    const order: string[] = [];
    const a = gc.runRecorded(() => { ins.run('a', 1); order.push('a'); });
    const count = gc.run((d) => { order.push('count'); return (d.prepare('SELECT count(*) AS n FROM scratch').get() as { n: number }).n; });
    const b = gc.runRecorded(() => { ins.run('b', 2); order.push('b'); });
    await Promise.all([a, b]);
    expect(await count).toBe(1);
    expect(order).toEqual(['a', 'count', 'b']);
    expect(committed()).toEqual(['a=1', 'b=2']);
  });

  it('fails only the job whose write fails (or whose JavaScript throws), drops its effects, and commits the rest', async () => {
    const ins = gc.statement('INSERT INTO scratch (k, v) VALUES (?, ?)');
    const effects: string[] = [];
    const pending = new PerBatch<string>();
    let resyncs = 0;
    gc.addHooks({
      begin: () => pending.begin(),
      mark: () => pending.mark(),
      discard: (from, to) => pending.discardOldest(from, to),
      resync: () => (resyncs += 1),
      committed: () => void effects.push(...pending.settle()),
      rolledBack: () => void pending.settle(),
    });
    const job = (k: string, v: number, fail = false) => gc.runRecorded(() => {
      ins.run(k, v);
      pending.current.push(`told ${k}`);
      if (fail) throw new Error(`gave up on ${k}`);
      return k;
    }).then((r) => r, (err: Error) => err.message);
    const told = await Promise.all([job('a', 1), job('a', 2), job('b', 3, true), job('c', 4)]);
    expect(told).toEqual(['a', expect.stringMatching(/UNIQUE constraint failed/), 'gave up on b', 'c']);
    expect(committed()).toEqual(['a=1', 'c=4']);
    expect(effects).toEqual(['told a', 'told c']);
    // Memory is re-read from the store before the next batch is recorded.
    expect(resyncs).toBe(0);
    await gc.runRecorded(() => ins.run('d', 5));
    expect(resyncs).toBe(1);
    expect(effects).toEqual(['told a', 'told c']);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('savepoint() takes back the writes of a part that throws, inside a recorded job', async () => {
    const ins = gc.statement('INSERT INTO scratch (k, v) VALUES (?, ?)');
    await gc.runRecorded(() => {
      ins.run('kept', 1);
      expect(() => gc.savepoint(() => { ins.run('dropped', 2); throw new Error('rules fault'); })).toThrow('rules fault');
      gc.savepoint(() => ins.run('also kept', 3));
    });
    expect(committed()).toEqual(['kept=1', 'also kept=3']);
  });

  it('reports a recorded job that writes around the recorder', async () => {
    await gc.runRecorded(() => db.prepare("INSERT INTO scratch (k, v) VALUES ('sneaky', 1)").run());
    expect(errors.map((e) => e.message)).toContain('a recorded job wrote through the connection instead of statement(); its writes were not part of the group commit');
  });

  it('drain() waits for every batch; close() refuses later work', async () => {
    const ins = gc.statement('INSERT INTO scratch (k, v) VALUES (?, ?)');
    for (let i = 0; i < 50; i++) gc.enqueueRecorded(() => ins.run(`k${i}`, i), () => {});
    await gc.drain();
    expect(committed()).toHaveLength(50);
    await gc.close();
    await expect(gc.runRecorded(() => ins.run('late', 0))).rejects.toThrow('store is closed');
  });
});

describe('openDatabase and migrate', () => {
  const userVersion = (db: Db) => db.pragma('user_version', { simple: true }) as number;

  it('brings a fresh file to the latest schema version', () => {
    expect(MIGRATIONS.length).toBeGreaterThan(0);
    const db = track(openDatabase(dir));
    expect(userVersion(db)).toBe(MIGRATIONS.length);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(['users', 'homes', 'residents']));
  });

  it('creates the data directory', () => {
    const nested = join(dir, 'a', 'b');
    const db = track(openDatabase(nested));
    expect(db.name).toBe(join(nested, 'anxin.sqlite'));
  });

  it.each([
    ['full', 2],
    ['normal', 1],
  ] as const)('opens in WAL mode with synchronous=%s and foreign keys on', (sync, level) => {
    const db = track(openDatabase(dir, sync));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(level);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
  });

  it('does not re-run migrations when a file is opened again', () => {
    const first = openDatabase(dir);
    first.exec("CREATE TABLE scratch (k TEXT); INSERT INTO scratch VALUES ('kept')");
    first.close();
    // Re-running the first migration would fail on its CREATE TABLE.
    const again = track(openDatabase(dir));
    expect(userVersion(again)).toBe(MIGRATIONS.length);
    expect(again.prepare('SELECT k FROM scratch').all()).toEqual([{ k: 'kept' }]);
    migrate(again);
    expect(userVersion(again)).toBe(MIGRATIONS.length);
  });

  it('runs only the migrations a file lacks', () => {
    const db = track(new Database(join(dir, 'anxin.sqlite')));
    db.exec(MIGRATIONS[0]!);
    db.pragma('user_version = 1');
    migrate(db);
    expect(userVersion(db)).toBe(MIGRATIONS.length);
  });

  it('refuses a file written by a newer hub, with a clear message', () => {
    const db = openDatabase(dir);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => track(openDatabase(dir))).toThrow(
      `store schema version ${MIGRATIONS.length + 1} is newer than this hub knows (${MIGRATIONS.length}); upgrade the hub`,
    );
    const raw = track(new Database(join(dir, 'anxin.sqlite')));
    expect(userVersion(raw)).toBe(MIGRATIONS.length + 1);
  });
});

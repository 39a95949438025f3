/**
 * Opens the embedded store: one SQLite file in WAL mode, migrated to the latest
 * schema version on open.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

/** `full` survives power loss (fsync on every commit); `normal` survives a process crash. */
export type SyncMode = 'full' | 'normal';

export interface OpenOptions {
  /**
   * Upgrade a store of an older schema (default). The CLI does not: it shares the file with a hub
   * that may still be running an older version, which an upgrade would leave answering with the
   * wrong schema and unable to restart. A new, empty store is created either way.
   */
  upgrade?: boolean;
}

/** The store is older than this code and was not upgraded (`upgrade: false`). */
export class StoreBehindError extends Error {
  constructor(readonly version: number, readonly latest: number) {
    super(`the store in this data directory is at schema version ${version}, this version of Anxin needs ${latest}: `
      + 'stop the hub that runs on it, start this version of the hub once (it upgrades the store), then run this command again');
    this.name = 'StoreBehindError';
  }
}

export function openDatabase(dataDir: string, sync: SyncMode = 'full', opts: OpenOptions = {}): Db {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, 'anxin.sqlite'));
  configure(db, sync);
  try {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (opts.upgrade === false && version > 0 && version < MIGRATIONS.length) throw new StoreBehindError(version, MIGRATIONS.length);
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** The connection settings every connection to the store uses (the hub's, the writer thread's, the CLI's). */
export function configure(db: Db, sync: SyncMode): void {
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${sync.toUpperCase()}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
}

/** The sync mode `db` was configured with, for a thread's own connection to the same file. */
export function syncModeOf(db: Db): SyncMode {
  return db.pragma('synchronous', { simple: true }) === 2 ? 'full' : 'normal';
}

/** A store thread's own connection to an existing store (writerThread.ts, checkpointThread.ts). */
export function openThreadConnection(file: string, sync: SyncMode, autocheckpointPages: number): Db {
  const db = new Database(file, { fileMustExist: true });
  configure(db, sync);
  db.pragma(`wal_autocheckpoint = ${autocheckpointPages}`);
  return db;
}

export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`store schema version ${current} is newer than this hub knows (${MIGRATIONS.length}); upgrade the hub`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

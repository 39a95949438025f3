/**
 * Migration 12 rebuilds the users table to admit the supervisor role (SQLite
 * cannot alter a CHECK), on a store written by migrations 1–11 with people,
 * sessions and residents who name their doctor: every row is kept, sessions
 * still sign in, and the foreign keys to users still hold and still cascade.
 */
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { MIGRATIONS } from '../../../server/store/migrations.js';
import { configure, migrate, type Db } from '../../../server/store/sqliteDb.js';

let db: Db | undefined;
afterEach(() => db?.close());

/** A store as a hub before migration 12 left it. */
function storeAtVersion11(): Db {
  const d = new Database(':memory:');
  configure(d, 'normal');
  for (let v = 0; v < 11; v++) {
    d.transaction(() => {
      d.exec(MIGRATIONS[v]!);
      d.pragma(`user_version = ${v + 1}`);
    })();
  }
  const user = d.prepare('INSERT INTO users (username, role, name, password_hash, disabled, created_at, updated_at, phone, webhook_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  user.run('admin', 'admin', '管理员', 'hash-a', 0, 1, 2, null, null);
  user.run('dr-li', 'doctor', '李医生', 'hash-d', 0, 3, 4, '+86 138 0000 0001', 'https://example.org/hook');
  user.run('op-zhang', 'operator', null, 'hash-o', 1, 5, 6, null, null);
  d.prepare('INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)').run('t-admin', 'admin', 10, 9e12);
  d.prepare('INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)').run('t-doctor', 'dr-li', 11, 9e12);
  d.prepare("INSERT INTO homes (id, address, created_at, updated_at) VALUES ('wh-0001', '威海', 1, 1)").run();
  d.prepare("INSERT INTO residents (id, home_id, name, doctor, created_at, updated_at) VALUES ('r-0001', 'wh-0001', '王秀英', 'dr-li', 1, 1)").run();
  d.prepare("INSERT INTO audit (at, actor, action, subject, detail) VALUES (1, 'system', 'user.created', 'admin', '{}')").run();
  return d;
}

it('keeps every user, session, resident and audit row, and admits supervisors', () => {
  db = storeAtVersion11();
  const before = {
    users: db.prepare('SELECT * FROM users ORDER BY username').all(),
    sessions: db.prepare('SELECT * FROM sessions ORDER BY token_hash').all(),
    residents: db.prepare('SELECT * FROM residents').all(),
    audit: db.prepare('SELECT * FROM audit').all(),
  };
  expect(() => db!.prepare("INSERT INTO users (username, role, password_hash, created_at, updated_at) VALUES ('sup', 'supervisor', 'h', 1, 1)").run())
    .toThrow(/CHECK constraint failed/);

  migrate(db);

  expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
  expect(db.prepare('SELECT * FROM users ORDER BY username').all()).toEqual(before.users);
  expect(db.prepare('SELECT * FROM sessions ORDER BY token_hash').all()).toEqual(before.sessions);
  expect(db.prepare('SELECT * FROM residents').all()).toEqual(before.residents);
  expect(db.prepare('SELECT * FROM audit').all()).toEqual(before.audit);
  expect(db.pragma('foreign_key_check')).toEqual([]);
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  expect(db.prepare("SELECT name FROM sqlite_temp_schema WHERE type = 'table'").all()).toEqual([]);

  db.prepare("INSERT INTO users (username, role, password_hash, created_at, updated_at) VALUES ('sup', 'supervisor', 'h', 1, 1)").run();
  expect(() => db!.prepare("INSERT INTO users (username, role, password_hash, created_at, updated_at) VALUES ('x', 'boss', 'h', 1, 1)").run())
    .toThrow(/CHECK constraint failed/);
});

it('keeps the foreign keys to users: a resident names an existing doctor, and a removed user’s sessions go with them', () => {
  db = storeAtVersion11();
  migrate(db);
  expect(() => db!.prepare("INSERT INTO residents (id, home_id, name, doctor, created_at, updated_at) VALUES ('r-2', 'wh-0001', '李桂兰', 'dr-nobody', 1, 1)").run())
    .toThrow(/FOREIGN KEY constraint failed/);
  expect(() => db!.prepare("DELETE FROM users WHERE username = 'dr-li'").run()).toThrow(/FOREIGN KEY constraint failed/);
  db.prepare("DELETE FROM users WHERE username = 'admin'").run();
  expect(db.prepare('SELECT token_hash FROM sessions').pluck().all()).toEqual(['t-doctor']);
});

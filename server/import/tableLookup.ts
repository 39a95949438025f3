/**
 * Directory rows looked up by an import, a whole document at a time: one set
 * query per table for every id the document names, instead of one point query
 * per id and check. On a district of thousands of homes the point queries held
 * the hub's event loop, and with it the ingest, for seconds.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/sqliteDb.js';

/** One table's rows by a key column: those of prefetched keys from one set query, others by a point query each. */
export class TableLookup<Row> {
  private rows = new Map<string, Row[]>();
  private readonly prefetched = new Set<string>();
  private readonly one: Statement;
  private readonly many: Statement;

  /**
   * `select` without its WHERE clause; `key` the column looked up by, read back by `keyOf`.
   * `group`: several rows per key (a home's residents); else one.
   */
  constructor(db: Db, select: string, key: string, private readonly keyOf: (r: Row) => string, private readonly group = false) {
    this.one = db.prepare(`${select} WHERE ${key} = ?`);
    // Driven by the list (a join, not IN): one index probe per key, with no list built first.
    this.many = db.prepare(`SELECT t.* FROM json_each(?) AS k JOIN (${select}) AS t ON t.${key} = k.value`);
  }

  /** Loads the rows of `keys`. */
  prefetch(keys: readonly string[]): void {
    if (keys.length === 0) return;
    for (const k of keys) this.prefetched.add(k);
    for (const r of this.many.all(JSON.stringify(keys)) as Row[]) {
      const key = this.keyOf(r);
      const rows = this.rows.get(key);
      if (!rows) this.rows.set(key, [r]);
      else if (this.group) rows.push(r);
    }
  }

  /** The rows of `key`, or undefined if there are none. */
  get(key: string): Row[] | undefined {
    const rows = this.rows.get(key);
    if (rows || this.prefetched.has(key)) return rows;
    const found = (this.group ? this.one.all(key) : [this.one.get(key)].filter((r) => r !== undefined)) as Row[];
    return found.length > 0 ? found : undefined;
  }
}

/** The ids an import document names, by what they name. */
export interface NamedIds {
  homes: string[];
  /** Declared, and named by devices. */
  residents: string[];
  /** Devices and gateways: one namespace, their MQTT usernames. */
  identities: string[];
  /** Declared, and named as doctors. */
  users: string[];
}

/** Every id an import document names, read defensively (it may have failed the schema), for prefetching. */
export function namedIds(doc: unknown): NamedIds {
  const homes = new Set<string>();
  const residents = new Set<string>();
  const identities = new Set<string>();
  const users = new Set<string>();
  const set = (ids: Set<string>) => (v: unknown): void => {
    if (typeof v === 'string' && v !== '') ids.add(v);
  };
  const [home, resident, identity, user] = [set(homes), set(residents), set(identities), set(users)];
  const items = (v: unknown): Array<Record<string, unknown>> =>
    (Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)) : []);
  const root = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : {};
  for (const h of items(root.homes)) {
    home(h.id);
    for (const r of items(h.residents)) {
      resident(r.id);
      user(r.doctor);
    }
    const gateway = h.gateway;
    if (typeof gateway === 'object' && gateway !== null) identity((gateway as Record<string, unknown>).id);
    for (const d of items(h.devices)) {
      identity(d.id);
      resident(d.resident);
    }
  }
  for (const u of items(root.users)) user(u.username);
  return { homes: [...homes], residents: [...residents], identities: [...identities], users: [...users] };
}

/**
 * Bulk onboarding (SPEC §6): upserts a whole import document atomically, all
 * or nothing, and issues MQTT secrets and passwords only for what is new, so
 * re-importing the same document changes nothing and issues nothing.
 *
 * Upsert means: a listed record is created or brought up to date; a field the
 * document leaves out keeps its stored value (a district re-exporting its
 * spreadsheet must not wipe the targets a doctor set through the API); records
 * the document does not list are never touched, so an import never deletes.
 */
import { generateSecret, hashSecret } from '../auth/secrets.js';
import type { Db } from '../store/sqliteDb.js';
import {
  ExistingDirectory, findProblems, referenceProblems,
  type DeviceRow, type GatewayRow, type HomeRow, type ImportProblem, type MqttKind, type ResidentRow, type UserRow,
} from './importChecks.js';
import type { ImportDocument } from './importSchema.js';
import { namedIds } from './tableLookup.js';

export type { ImportProblem } from './importChecks.js';

/** Refusal of a whole document, with every problem named by its JSON Pointer; nothing was written. */
export class ImportError extends Error {
  readonly errors: ImportProblem[];

  constructor(errors: ImportProblem[]) {
    super(`import refused, ${errors.length} problem${errors.length === 1 ? '' : 's'}: `
      + errors.slice(0, 3).map((e) => `${e.path} ${e.message}`).join('; ') + (errors.length > 3 ? '; …' : ''));
    this.name = 'ImportError';
    this.errors = errors;
  }
}

export interface ImportCounts {
  homes: number;
  residents: number;
  devices: number;
  gateways: number;
  users: number;
}

/** A new MQTT identity; `password` is shown here once and stored only as a hash. */
export interface IssuedCredential {
  username: string;
  password: string;
  kind: MqttKind;
}

/** A new web-side user with a random first password, shown here once. */
export interface IssuedUser {
  username: string;
  password: string;
}

export interface ImportResult {
  /** In document order: per home its gateway, then its devices. */
  credentials: IssuedCredential[];
  users: IssuedUser[];
  created: ImportCounts;
  updated: ImportCounts;
  unchanged: ImportCounts;
}

export interface ImportOptions {
  /** Who imports, for the audit trail: a username, or `cli`. */
  actor: string;
  now?: number;
}

type Outcome = 'created' | 'updated' | 'unchanged';
type Planned<Row> = { outcome: Outcome; row: Row };
type Entity = keyof ImportCounts;

interface ImportPlan {
  users: Planned<UserRow>[];
  homes: Planned<HomeRow>[];
  residents: Planned<ResidentRow>[];
  gateways: Planned<GatewayRow>[];
  devices: Planned<DeviceRow>[];
  /** Devices and gateways that have no MQTT credential yet, in document order. */
  newIdentities: Array<{ username: string; kind: MqttKind; homeId: string }>;
}

/** A secret and its hash, computed before the write transaction. */
type Prepared = { secret: string; hash: string };

/**
 * Checks `doc` completely, then writes it in one transaction.
 *
 * Throws `ImportError` listing every problem; nothing is written then. A hub
 * process holding a `DirectoryStore` must call its `reloadCache()` afterwards:
 * the ingest path reads devices and residents from memory.
 *
 * In a hub the import shares the event loop, and the store's write lock, with
 * the ingest (a district of 10,000 homes held PUBACKs for seconds when every
 * step ran row by row, twice, in one turn). So the directory is read in one
 * set query per table, the steps before the transaction take turns of the
 * event loop with the ingest, and the transaction checks again only if the
 * directory changed meanwhile, and writes each table in one statement.
 */
export async function importDocument(db: Db, doc: unknown, opts: ImportOptions): Promise<ImportResult> {
  const ids = namedIds(doc);
  // The rows read from here on are kept (in `existing`): any change after this state makes the transaction check again.
  const state = directoryState(db);
  const existing = new ExistingDirectory(db);
  for (const step of existing.prefetchSteps(ids)) {
    step();
    await nextTurn();
  }
  const problems = findProblems(doc, existing);
  if (problems.length > 0) throw new ImportError(problems);
  const document = doc as ImportDocument;
  const now = opts.now ?? Date.now();
  const planned = emptyPlan();
  for (const _slice of planSteps(document, existing, planned)) await nextTurn();

  // Passwords' scrypt is slow on purpose, and better-sqlite3 transactions are synchronous:
  // hash everything first (scrypt in libuv's thread pool), then write without waiting.
  const [identitySecrets, userSecrets] = await Promise.all([
    prepareSecrets(planned.newIdentities.map((c) => c.username), 'device'),
    prepareSecrets(planned.users.filter((u) => u.outcome === 'created').map((u) => u.row.username), 'password'),
  ]);

  // IMMEDIATE takes the write lock first, so the directory cannot change between
  // the re-check below and the writes (another import, the API, a CLI run).
  const written = db.transaction((): ImportResult => {
    let plan = planned;
    if (directoryState(db) !== state) {
      const current = new ExistingDirectory(db).prefetch(ids);
      const late = referenceProblems(document, current);
      if (late.length > 0) throw new ImportError(late);
      plan = planImport(document, current);
      const missing = [...plan.newIdentities.map((c) => c.username).filter((u) => !identitySecrets.has(u)),
        ...plan.users.filter((u) => u.outcome === 'created' && !userSecrets.has(u.row.username)).map((u) => u.row.username)];
      if (missing.length > 0) {
        throw new Error(`the directory changed while the import was prepared (${missing.join(', ')}); run it again`);
      }
    }
    writePlan(db, plan, identitySecrets, userSecrets, now);
    const result: ImportResult = {
      credentials: plan.newIdentities.map((c) => ({ username: c.username, password: identitySecrets.get(c.username)!.secret, kind: c.kind })),
      users: plan.users.filter((u) => u.outcome === 'created').map((u) => ({ username: u.row.username, password: userSecrets.get(u.row.username)!.secret })),
      created: count(plan, 'created'),
      updated: count(plan, 'updated'),
      unchanged: count(plan, 'unchanged'),
    };
    db.prepare('INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)').run(
      now, opts.actor, 'import', null,
      // Counts only: secrets must never reach the audit trail.
      JSON.stringify({ created: result.created, updated: result.updated, unchanged: result.unchanged, credentialsIssued: result.credentials.length, usersIssued: result.users.length }),
    );
    return result;
  }).immediate();
  // The caller reloads its cache next (DirectoryStore.reloadCache): in a turn of its own, not on top of the write's.
  await nextTurn();
  return written;
}

/** Lets the event loop serve what waits (MQTT publishes, their PUBACKs) before the next step. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * What the checks and the plan read, as one comparable value: the directory's
 * change counter (bumped by every write to homes, residents, gateways, devices
 * and credentials, retirements included) and the users, which it does not count.
 */
function directoryState(db: Db): string {
  const version = db.prepare('SELECT version FROM directory_version').pluck().get() as number;
  const users = db.prepare('SELECT username, role, name, phone, webhook_url, disabled FROM users ORDER BY username').raw().all();
  return JSON.stringify([version, users]);
}

function emptyPlan(): ImportPlan {
  return { users: [], homes: [], residents: [], gateways: [], devices: [], newIdentities: [] };
}

/** Merges each listed record over its stored row and says what would change. */
function planImport(doc: ImportDocument, existing: ExistingDirectory): ImportPlan {
  const plan = emptyPlan();
  for (const _slice of planSteps(doc, existing, plan));
  return plan;
}

/** Homes planned between two turns of the event loop. */
const HOMES_PER_TURN = 1000;

/** Fills `plan`, pausing after each `HOMES_PER_TURN` homes. */
function* planSteps(doc: ImportDocument, existing: ExistingDirectory, plan: ImportPlan): Generator<void> {
  for (const u of doc.users ?? []) {
    const old = existing.user(u.username);
    // Listing a disabled user does not re-enable it: that stays an explicit admin action.
    plan.users.push(decide<UserRow>(old, {
      username: u.username, role: u.role, name: u.name ?? old?.name ?? null,
      phone: u.phone ?? old?.phone ?? null, webhook_url: u.webhookUrl ?? old?.webhook_url ?? null,
    }));
  }
  for (const [i, h] of (doc.homes ?? []).entries()) {
    if (i > 0 && i % HOMES_PER_TURN === 0) yield;
    const oldHome = existing.home(h.id);
    plan.homes.push(decide(oldHome, { id: h.id, address: h.address, phone: h.phone ?? oldHome?.phone ?? null, access: h.access ?? oldHome?.access ?? null }));
    for (const r of h.residents ?? []) {
      const old = existing.resident(r.id);
      plan.residents.push(decide(old, {
        id: r.id,
        home_id: h.id,
        name: r.name,
        birth_year: r.birthYear ?? old?.birth_year ?? null,
        sex: r.sex ?? old?.sex ?? null,
        doctor: r.doctor ?? old?.doctor ?? null,
        conditions: r.conditions ? JSON.stringify(r.conditions) : old?.conditions ?? '[]',
        contacts: r.contacts ? JSON.stringify(r.contacts) : old?.contacts ?? '[]',
        targets: r.targets ? JSON.stringify(r.targets) : old?.targets ?? '{}',
        schedule: r.schedule ? JSON.stringify(r.schedule) : old?.schedule ?? '[]',
      }));
    }
    if (h.gateway) {
      plan.gateways.push(decide(existing.gateway(h.gateway.id), { id: h.gateway.id, home_id: h.id }));
      if (!existing.credential(h.gateway.id)) plan.newIdentities.push({ username: h.gateway.id, kind: 'gateway', homeId: h.id });
    }
    for (const d of h.devices ?? []) {
      const old = existing.device(d.id);
      plan.devices.push(decide(old, {
        id: d.id,
        home_id: h.id,
        type: d.type,
        resident_id: d.resident ?? old?.resident_id ?? null,
        heartbeat_seconds: d.heartbeatSeconds ?? old?.heartbeat_seconds ?? null,
      }));
      // Keyed on the credential, not the device row: a device whose credential
      // was revoked gets a new one; one that has a credential never gets another.
      if (!existing.credential(d.id)) plan.newIdentities.push({ username: d.id, kind: 'device', homeId: h.id });
    }
  }
}

const JSON_COLUMNS = new Set(['conditions', 'contacts', 'targets', 'schedule']);

function decide<Row extends object>(old: Row | undefined, row: Row): Planned<Row> {
  if (!old) return { outcome: 'created', row };
  const changed = Object.entries(row).some(([key, value]) => {
    const before = (old as Record<string, unknown>)[key];
    // Same JSON written with keys in another order is the same target.
    return before !== value && (!JSON_COLUMNS.has(key) || canonicalJson(before as string) !== canonicalJson(value as string));
  });
  return { outcome: changed ? 'updated' : 'unchanged', row };
}

function canonicalJson(text: string): string {
  return JSON.stringify(JSON.parse(text), (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value);
}

/** Secrets made and hashed per turn of the event loop: 60,000 at once held it for about half a second. */
const SECRETS_PER_TURN = 2000;

async function prepareSecrets(usernames: string[], kind: 'device' | 'password'): Promise<Map<string, Prepared>> {
  // Gateways, like devices, get hub-issued random secrets: the fast 'device' hash is enough (secrets.ts).
  const prepared = new Map<string, Prepared>();
  for (let i = 0; i < usernames.length; i += SECRETS_PER_TURN) {
    if (i > 0) await nextTurn();
    await Promise.all(usernames.slice(i, i + SECRETS_PER_TURN).map(async (username) => {
      const secret = generateSecret();
      prepared.set(username, { secret, hash: await hashSecret(secret, kind) });
    }));
  }
  return prepared;
}

/**
 * Writes in foreign-key order: users (doctors) and homes before what refers to
 * them. Each table's new rows go in one INSERT from a JSON array (json_each):
 * a statement run per row from JavaScript made the transaction, which holds
 * the write lock the ingest's commits wait for, half again as long.
 */
function writePlan(db: Db, plan: ImportPlan, identitySecrets: Map<string, Prepared>, userSecrets: Map<string, Prepared>, now: number): void {
  const write = <Row extends object>(items: Planned<Row>[], table: string, columns: readonly string[], update: string | null, extra?: (row: Row) => object): void => {
    insertAll(db, table, columns, items.filter((p) => p.outcome === 'created').map((p) => (extra ? { ...p.row, ...extra(p.row) } : p.row)), now);
    const updated = items.filter((p) => p.outcome === 'updated');
    if (updated.length === 0 || update === null) return;
    const updateStmt = db.prepare(update);
    for (const { row } of updated) updateStmt.run({ ...row, now });
  };
  write(plan.users, 'users', ['username', 'role', 'name', 'phone', 'webhook_url', 'password_hash'],
    'UPDATE users SET role = @role, name = @name, phone = @phone, webhook_url = @webhook_url, updated_at = @now WHERE username = @username',
    (u) => ({ password_hash: userSecrets.get(u.username)!.hash }));
  write(plan.homes, 'homes', ['id', 'address', 'phone', 'access'],
    'UPDATE homes SET address = @address, phone = @phone, access = @access, updated_at = @now WHERE id = @id');
  write(plan.residents, 'residents', ['id', 'home_id', 'name', 'birth_year', 'sex', 'doctor', 'conditions', 'contacts', 'targets', 'schedule'],
    `UPDATE residents SET name = @name, birth_year = @birth_year, sex = @sex, doctor = @doctor,
       conditions = @conditions, contacts = @contacts, targets = @targets, schedule = @schedule, updated_at = @now WHERE id = @id`);
  // A gateway row is only its home, which an import may not change: never 'updated'.
  write(plan.gateways, 'gateways', ['id', 'home_id'], null);
  write(plan.devices, 'devices', ['id', 'home_id', 'type', 'resident_id', 'heartbeat_seconds'],
    'UPDATE devices SET type = @type, resident_id = @resident_id, heartbeat_seconds = @heartbeat_seconds, updated_at = @now WHERE id = @id');
  insertAll(db, 'mqtt_credentials', ['username', 'kind', 'home_id', 'secret_hash'],
    plan.newIdentities.map((c) => ({ username: c.username, kind: c.kind, home_id: c.homeId, secret_hash: identitySecrets.get(c.username)!.hash })), now, 'rotated_at');
}

/** Inserts `rows` (objects with `columns`) into `table` in one statement, stamped `now` as created and `touched`. */
function insertAll(db: Db, table: string, columns: readonly string[], rows: object[], now: number, touched = 'updated_at'): void {
  if (rows.length === 0) return;
  const values = columns.map((c) => `value ->> '${c}'`).join(', ');
  db.prepare(`INSERT INTO ${table} (${columns.join(', ')}, created_at, ${touched}) SELECT ${values}, @now, @now FROM json_each(@rows)`)
    .run({ rows: JSON.stringify(rows), now });
}

function count(plan: ImportPlan, outcome: Outcome): ImportCounts {
  const n = (entity: Entity): number => plan[entity].filter((p) => p.outcome === outcome).length;
  return { homes: n('homes'), residents: n('residents'), devices: n('devices'), gateways: n('gateways'), users: n('users') };
}

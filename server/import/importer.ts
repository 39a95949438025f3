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
 */
export async function importDocument(db: Db, doc: unknown, opts: ImportOptions): Promise<ImportResult> {
  const problems = findProblems(doc, new ExistingDirectory(db));
  if (problems.length > 0) throw new ImportError(problems);
  const document = doc as ImportDocument;
  const now = opts.now ?? Date.now();

  // Passwords' scrypt is slow on purpose, and better-sqlite3 transactions are synchronous:
  // hash everything first (scrypt in libuv's thread pool), then write without waiting.
  const planned = planImport(document, new ExistingDirectory(db));
  const [identitySecrets, userSecrets] = await Promise.all([
    prepareSecrets(planned.newIdentities.map((c) => c.username), 'device'),
    prepareSecrets(planned.users.filter((u) => u.outcome === 'created').map((u) => u.row.username), 'password'),
  ]);

  // IMMEDIATE takes the write lock first, so the directory cannot change between
  // the re-check below and the writes (another import, the API, a CLI run).
  return db.transaction((): ImportResult => {
    const existing = new ExistingDirectory(db);
    const late = referenceProblems(document, existing);
    if (late.length > 0) throw new ImportError(late);
    const plan = planImport(document, existing);
    const missing = [...plan.newIdentities.map((c) => c.username).filter((u) => !identitySecrets.has(u)),
      ...plan.users.filter((u) => u.outcome === 'created' && !userSecrets.has(u.row.username)).map((u) => u.row.username)];
    if (missing.length > 0) {
      throw new Error(`the directory changed while the import was prepared (${missing.join(', ')}); run it again`);
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
}

/** Merges each listed record over its stored row and says what would change. */
function planImport(doc: ImportDocument, existing: ExistingDirectory): ImportPlan {
  const plan: ImportPlan = { users: [], homes: [], residents: [], gateways: [], devices: [], newIdentities: [] };
  for (const u of doc.users ?? []) {
    const old = existing.user(u.username);
    // Listing a disabled user does not re-enable it: that stays an explicit admin action.
    plan.users.push(decide<UserRow>(old, {
      username: u.username, role: u.role, name: u.name ?? old?.name ?? null,
      phone: u.phone ?? old?.phone ?? null, webhook_url: u.webhookUrl ?? old?.webhook_url ?? null,
    }));
  }
  for (const h of doc.homes ?? []) {
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
  return plan;
}

const JSON_COLUMNS = new Set(['conditions', 'contacts', 'targets', 'schedule']);

function decide<Row extends object>(old: Row | undefined, row: Row): Planned<Row> {
  if (!old) return { outcome: 'created', row };
  const changed = Object.entries(row).some(([key, value]) => {
    const before = (old as Record<string, unknown>)[key];
    // Same JSON written with keys in another order is the same target.
    return JSON_COLUMNS.has(key) ? canonicalJson(before as string) !== canonicalJson(value as string) : before !== value;
  });
  return { outcome: changed ? 'updated' : 'unchanged', row };
}

function canonicalJson(text: string): string {
  return JSON.stringify(JSON.parse(text), (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value);
}

async function prepareSecrets(usernames: string[], kind: 'device' | 'password'): Promise<Map<string, Prepared>> {
  // Gateways, like devices, get hub-issued random secrets: the fast 'device' hash is enough (secrets.ts).
  const prepared = await Promise.all(usernames.map(async (username) => {
    const secret = generateSecret();
    return [username, { secret, hash: await hashSecret(secret, kind) }] as const;
  }));
  return new Map(prepared);
}

/** Writes in foreign-key order: users (doctors) and homes before what refers to them. */
function writePlan(db: Db, plan: ImportPlan, identitySecrets: Map<string, Prepared>, userSecrets: Map<string, Prepared>, now: number): void {
  const write = <Row extends object>(items: Planned<Row>[], insert: string, update: string | null, extra?: (row: Row) => object): void => {
    const insertStmt = db.prepare(insert);
    const updateStmt = update === null ? null : db.prepare(update);
    for (const { outcome, row } of items) {
      if (outcome === 'created') insertStmt.run({ ...row, ...extra?.(row), now });
      else if (outcome === 'updated') updateStmt?.run({ ...row, now });
    }
  };
  write(plan.users,
    `INSERT INTO users (username, role, name, phone, webhook_url, password_hash, created_at, updated_at)
     VALUES (@username, @role, @name, @phone, @webhook_url, @password_hash, @now, @now)`,
    'UPDATE users SET role = @role, name = @name, phone = @phone, webhook_url = @webhook_url, updated_at = @now WHERE username = @username',
    (u) => ({ password_hash: userSecrets.get(u.username)!.hash }));
  write(plan.homes,
    'INSERT INTO homes (id, address, phone, access, created_at, updated_at) VALUES (@id, @address, @phone, @access, @now, @now)',
    'UPDATE homes SET address = @address, phone = @phone, access = @access, updated_at = @now WHERE id = @id');
  write(plan.residents,
    `INSERT INTO residents (id, home_id, name, birth_year, sex, doctor, conditions, contacts, targets, schedule, created_at, updated_at)
     VALUES (@id, @home_id, @name, @birth_year, @sex, @doctor, @conditions, @contacts, @targets, @schedule, @now, @now)`,
    `UPDATE residents SET name = @name, birth_year = @birth_year, sex = @sex, doctor = @doctor,
       conditions = @conditions, contacts = @contacts, targets = @targets, schedule = @schedule, updated_at = @now WHERE id = @id`);
  write(plan.gateways,
    'INSERT INTO gateways (id, home_id, created_at, updated_at) VALUES (@id, @home_id, @now, @now)',
    // A gateway row is only its home, which an import may not change: never 'updated'.
    null);
  write(plan.devices,
    `INSERT INTO devices (id, home_id, type, resident_id, heartbeat_seconds, created_at, updated_at)
     VALUES (@id, @home_id, @type, @resident_id, @heartbeat_seconds, @now, @now)`,
    `UPDATE devices SET type = @type, resident_id = @resident_id, heartbeat_seconds = @heartbeat_seconds, updated_at = @now WHERE id = @id`);
  const credential = db.prepare(`INSERT INTO mqtt_credentials (username, kind, home_id, secret_hash, created_at, rotated_at)
    VALUES (@username, @kind, @homeId, @hash, @now, @now)`);
  for (const c of plan.newIdentities) credential.run({ ...c, hash: identitySecrets.get(c.username)!.hash, now });
}

function count(plan: ImportPlan, outcome: Outcome): ImportCounts {
  const n = (entity: Entity): number => plan[entity].filter((p) => p.outcome === outcome).length;
  return { homes: n('homes'), residents: n('residents'), devices: n('devices'), gateways: n('gateways'), users: n('users') };
}

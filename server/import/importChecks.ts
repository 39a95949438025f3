/**
 * Everything that can be wrong with an import document, found at once: the
 * schema's errors and the cross-references JSON Schema cannot express
 * (duplicate ids, the doctor a resident names, the resident a device is bound
 * to, ids already used elsewhere in the directory). Each problem is named by
 * the JSON Pointer of the offending value so a person can fix the file in one
 * pass instead of one error per attempt.
 */
import { compileSchema, describeError } from '../../devices/schemaValidator.js';
import { ID_PATTERN } from '../../devices/topics.js';
import { webhookUrlProblem } from '../notify/webhookNotifier.js';
import type { Db } from '../store/sqliteDb.js';
import { ESCALATED_TO_DOCTOR } from '../store/userStore.js';
import { ImportDocument, MAX_RESIDENTS_PER_HOME, NOT_BLANK, USERNAME_PATTERN } from './importSchema.js';
import { retiredIdentities, retirementProblem, type Retirement } from './retiredIdentities.js';
import { TableLookup, type NamedIds } from './tableLookup.js';

/** One thing to fix, e.g. `{path: "/homes/0/residents/1/birthYear", message: "must be <= 2025"}`. */
export interface ImportProblem {
  path: string;
  message: string;
}

export type MqttKind = 'device' | 'gateway';

/** Directory rows as stored (snake_case columns; JSON columns as text). */
export interface HomeRow { id: string; address: string; phone: string | null; access: string | null }
export interface ResidentRow {
  id: string; home_id: string; name: string; birth_year: number | null; sex: string | null;
  doctor: string | null; conditions: string; contacts: string; targets: string; schedule: string;
}
export interface GatewayRow { id: string; home_id: string }
export interface DeviceRow { id: string; home_id: string; type: string; resident_id: string | null; heartbeat_seconds: number | null }
export interface UserRow { username: string; role: string; name: string | null; phone: string | null; webhook_url: string | null }
/** A stored user; a disabled one keeps its row (residents and the audit trail refer to it). */
export interface StoredUser extends UserRow { disabled: number }
export interface CredentialRow { username: string; kind: MqttKind; home_id: string }

/**
 * What the directory already holds, for checking and planning an import.
 * `prefetch` loads the rows of every id a document names at once (tableLookup.ts);
 * other ids are looked up one by one.
 */
export class ExistingDirectory {
  private readonly lookups;
  private retired: Map<string, Retirement> | undefined;

  constructor(private readonly db: Db) {
    const lookup = <Row>(select: string, key: string, keyOf: (r: Row) => string, group = false) => new TableLookup<Row>(db, select, key, keyOf, group);
    this.lookups = {
      home: lookup<HomeRow>('SELECT id, address, phone, access FROM homes', 'id', (r) => r.id),
      homeGateway: lookup<GatewayRow>('SELECT id, home_id FROM gateways', 'home_id', (r) => r.home_id),
      resident: lookup<ResidentRow>('SELECT id, home_id, name, birth_year, sex, doctor, conditions, contacts, targets, schedule FROM residents', 'id', (r) => r.id),
      residentsOfHome: lookup<{ id: string; home_id: string }>('SELECT id, home_id FROM residents', 'home_id', (r) => r.home_id, true),
      gateway: lookup<GatewayRow>('SELECT id, home_id FROM gateways', 'id', (r) => r.id),
      device: lookup<DeviceRow>('SELECT id, home_id, type, resident_id, heartbeat_seconds FROM devices', 'id', (r) => r.id),
      user: lookup<StoredUser>('SELECT username, role, name, phone, webhook_url, disabled FROM users', 'username', (r) => r.username),
      credential: lookup<CredentialRow>('SELECT username, kind, home_id FROM mqtt_credentials', 'username', (r) => r.username),
    };
  }

  /** Loads at once what the directory holds of the ids a document names (`namedIds`). */
  prefetch(ids: NamedIds): this {
    for (const step of this.prefetchSteps(ids)) step();
    return this;
  }

  /** `prefetch` as one query per step, for a caller that lets other work run between them. */
  prefetchSteps(ids: NamedIds): Array<() => void> {
    const l = this.lookups;
    return [
      ...[l.home, l.homeGateway, l.residentsOfHome].map((lookup) => () => lookup.prefetch(ids.homes)),
      () => l.resident.prefetch(ids.residents),
      ...[l.gateway, l.device, l.credential].map((lookup) => () => lookup.prefetch(ids.identities)),
      () => l.user.prefetch(ids.users),
    ];
  }

  home(id: string): HomeRow | undefined { return this.lookups.home.get(id)?.[0]; }
  homeGateway(homeId: string): string | undefined { return this.lookups.homeGateway.get(homeId)?.[0]?.id; }
  resident(id: string): ResidentRow | undefined { return this.lookups.resident.get(id)?.[0]; }
  residentIdsOfHome(homeId: string): string[] { return (this.lookups.residentsOfHome.get(homeId) ?? []).map((r) => r.id); }
  gateway(id: string): GatewayRow | undefined { return this.lookups.gateway.get(id)?.[0]; }
  device(id: string): DeviceRow | undefined { return this.lookups.device.get(id)?.[0]; }
  user(username: string): StoredUser | undefined { return this.lookups.user.get(username)?.[0]; }
  credential(username: string): CredentialRow | undefined { return this.lookups.credential.get(username)?.[0]; }
  /** A retired device's or replaced gateway's id, never issued again (retiredIdentities.ts); all loaded at the first lookup. */
  retirement(id: string): Retirement | undefined { return (this.retired ??= retiredIdentities(this.db)).get(id); }
  /** How many of a resident's unresolved alerts are escalated to `doctor` (asked only when an import changes their doctor). */
  escalationsTo(residentId: string, doctor: string): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM alerts WHERE resident_id = ? AND escalated_to = ? AND ${ESCALATED_TO_DOCTOR}`)
      .get(residentId, doctor) as { n: number }).n;
  }
}

const validateSchema = compileSchema<ImportDocument>(ImportDocument, { allErrors: true });

/** Ajv's "must match pattern" and "one of the allowed values", said so the person fixing a file knows what to write. */
const PATTERN_MESSAGES: Record<string, string> = {
  [ID_PATTERN]: 'must be 1 to 64 lower-case letters, digits or "-", not starting with "-"',
  [USERNAME_PATTERN]: 'must be 2 to 64 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit',
  [NOT_BLANK]: 'must not be blank',
};

const USERNAME_RE = new RegExp(USERNAME_PATTERN);
const ID_RE = new RegExp(ID_PATTERN);

/** Schema problems only; an empty list means `doc` is an `ImportDocument`. */
export function schemaProblems(doc: unknown): ImportProblem[] {
  if (validateSchema(doc)) return [];
  return (validateSchema.errors ?? []).map((e) => {
    const { path, message } = describeError(e);
    if (e.keyword === 'pattern') {
      return { path, message: PATTERN_MESSAGES[(e.params as { pattern: string }).pattern] ?? message };
    }
    if (e.keyword === 'enum') {
      return { path, message: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` };
    }
    return { path, message };
  });
}

type Loose = Record<string, unknown>;

/**
 * Cross-reference problems. Runs on documents that failed the schema too, so
 * every problem is reported at once; hence it reads the document defensively
 * and skips what the schema has already refused.
 */
export function referenceProblems(doc: unknown, existing: ExistingDirectory): ImportProblem[] {
  const problems: ImportProblem[] = [];
  const add = (path: string, message: string): void => { problems.push({ path, message }); };
  const homes = objectItems(isObject(doc) ? doc.homes : undefined);

  // Users first: residents' doctors may be declared in the same document.
  const docUsers = new Map<string, { role: unknown; path: string }>();
  for (const [i, user] of objectItems(isObject(doc) ? doc.users : undefined)) {
    // The notifier's own rule: a URL accepted here is never refused at the first escalation.
    const hookProblem = typeof user.webhookUrl === 'string' ? webhookUrlProblem(user.webhookUrl) : null;
    if (hookProblem) add(`/users/${i}/webhookUrl`, hookProblem);
    const username = text(user.username);
    if (!username) continue;
    const path = `/users/${i}`;
    const first = docUsers.get(username);
    if (first) { add(`${path}/username`, `duplicates ${first.path}/username`); continue; }
    docUsers.set(username, { role: user.role, path });
    const row = existing.user(username);
    if (row && typeof user.role === 'string' && row.role !== user.role) {
      add(`${path}/role`, `user ${username} already exists with role ${row.role}; an import does not change roles, an admin does: the admin page's Users panel, PUT /api/v1/users/${username}, or \`npm run anxin -- set-role ${username} ${user.role}\``);
    }
  }

  // Where each id is first declared, so later ones are named as duplicates of it.
  const homePaths = new Map<string, string>();
  const residentDecls = new Map<string, { homeId: string | undefined; path: string }>();
  // Devices and gateways authenticate with their id as MQTT username (SPEC §2): one namespace.
  const mqttDecls = new Map<string, { kind: MqttKind; path: string }>();
  const declareMqtt = (id: string | undefined, kind: MqttKind, path: string): void => {
    if (!id) return;
    const first = mqttDecls.get(id);
    if (!first) { mqttDecls.set(id, { kind, path }); return; }
    add(`${path}/id`, first.kind === kind ? `duplicates ${first.path}/id`
      : `duplicates ${first.path}/id: devices and gateways share one namespace, their MQTT username`);
  };
  for (const [i, home] of homes) {
    const path = `/homes/${i}`;
    const homeId = text(home.id);
    if (homeId) {
      const first = homePaths.get(homeId);
      if (first) add(`${path}/id`, `duplicates ${first}/id`);
      else homePaths.set(homeId, path);
    }
    for (const [j, resident] of objectItems(home.residents)) {
      const id = text(resident.id);
      if (!id) continue;
      const first = residentDecls.get(id);
      if (first) add(`${path}/residents/${j}/id`, `duplicates ${first.path}/id`);
      else residentDecls.set(id, { homeId, path: `${path}/residents/${j}` });
    }
    if (isObject(home.gateway)) declareMqtt(text(home.gateway.id), 'gateway', `${path}/gateway`);
    for (const [k, device] of objectItems(home.devices)) declareMqtt(text(device.id), 'device', `${path}/devices/${k}`);
  }

  for (const [i, home] of homes) {
    const homeId = text(home.id);
    if (!homeId) continue;
    const path = `/homes/${i}`;
    const residents = objectItems(home.residents);
    for (const [j, resident] of residents) {
      const rPath = `${path}/residents/${j}`;
      const id = text(resident.id);
      const row = id ? existing.resident(id) : undefined;
      if (row && row.home_id !== homeId) {
        add(`${rPath}/id`, `resident ${id} already lives in home ${row.home_id}; moving a resident is an admin action, not an import: POST /api/v1/residents/${id}/move`);
      }
      // A malformed name is the schema's problem; looking it up would only repeat it.
      const doctor = text(resident.doctor);
      if (doctor && USERNAME_RE.test(doctor)) {
        const problem = doctorProblem(doctor, docUsers, existing);
        if (problem) add(`${rPath}/doctor`, problem);
        // What is escalated to their doctor would stay with a doctor who is no longer theirs: the admin
        // action hands it over and tells the new doctor; an import would do neither.
        const escalated = row?.doctor && row.doctor !== doctor ? existing.escalationsTo(row.id, row.doctor) : 0;
        if (!problem && escalated > 0) {
          add(`${rPath}/doctor`, `resident ${row!.id} has ${escalated} alert(s) escalated to ${row!.doctor}; changing their doctor hands those over, an admin action: `
            + `POST /api/v1/doctors/${row!.doctor}/patients/move {"to":"${doctor}","residents":["${row!.id}"]}`);
        }
      }
    }
    if (Array.isArray(home.residents) && home.residents.length <= MAX_RESIDENTS_PER_HOME) {
      const listed = new Set(residents.map(([, r]) => r.id));
      const kept = existing.residentIdsOfHome(homeId).filter((id) => !listed.has(id)).length;
      if (kept + home.residents.length > MAX_RESIDENTS_PER_HOME) {
        add(`${path}/residents`, `home ${homeId} would have ${kept + home.residents.length} residents (${kept} more already in the directory); at most ${MAX_RESIDENTS_PER_HOME}`);
      }
    }

    if (isObject(home.gateway)) {
      const id = text(home.gateway.id);
      const current = existing.homeGateway(homeId);
      if (id && current !== undefined && current !== id) {
        add(`${path}/gateway/id`, `home ${homeId} already has gateway ${current}; replacing a gateway is an admin action, not an import: POST /api/v1/homes/${homeId}/gateway`);
      }
      const problem = id ? identityProblem(id, 'gateway', homeId, existing) : undefined;
      if (problem) add(`${path}/gateway/id`, problem);
    }

    for (const [k, device] of objectItems(home.devices)) {
      const dPath = `${path}/devices/${k}`;
      const id = text(device.id);
      const problem = id ? identityProblem(id, 'device', homeId, existing) : undefined;
      if (problem) add(`${dPath}/id`, problem);
      const residentId = text(device.resident);
      if (residentId && ID_RE.test(residentId)) {
        const decl = residentDecls.get(residentId);
        const residentHome = decl ? decl.homeId : existing.resident(residentId)?.home_id;
        if (!decl && residentHome === undefined) {
          add(`${dPath}/resident`, `no resident ${residentId} in this document or the directory`);
        } else if (residentHome !== undefined && residentHome !== homeId) {
          add(`${dPath}/resident`, `${residentId} is a resident of home ${residentHome}, not of ${homeId}`);
        }
      }
    }
  }
  return problems;
}

/** Schema and cross-reference problems together, in the order of their paths. */
export function findProblems(doc: unknown, existing: ExistingDirectory): ImportProblem[] {
  const problems = [...schemaProblems(doc), ...referenceProblems(doc, existing)];
  const unique = new Map(problems.map((p) => [`${p.path}\u0000${p.message}`, p]));
  return [...unique.values()].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
}

function doctorProblem(doctor: string, docUsers: Map<string, { role: unknown; path: string }>, existing: ExistingDirectory): string | undefined {
  const declared = docUsers.get(doctor);
  // A role conflict between document and directory is reported on the user itself.
  if (declared) return declared.role === 'doctor' ? undefined : `${doctor} is declared at ${declared.path} with role ${String(declared.role)}, not doctor`;
  const row = existing.user(doctor);
  if (!row) return `no user ${doctor} in this document or the directory`;
  if (row.role !== 'doctor') return `user ${doctor} has role ${row.role}, not doctor`;
  // A disabled doctor cannot sign in, so their residents' alerts would reach nobody.
  return row.disabled ? `doctor ${doctor} is disabled` : undefined;
}

/**
 * What stops `id` from being this home's device or gateway: it is the other
 * kind's MQTT username, or it already belongs to another home (the broker's
 * ACL confines a client to its credential's home, so moving one must be a
 * deliberate act that also revokes the old home's access).
 */
function identityProblem(id: string, kind: MqttKind, homeId: string, existing: ExistingDirectory): string | undefined {
  const retired = existing.retirement(id);
  if (retired) return retirementProblem(retired);
  const other: MqttKind = kind === 'device' ? 'gateway' : 'device';
  const credential = existing.credential(id);
  const otherRow = kind === 'device' ? existing.gateway(id) : existing.device(id);
  if (otherRow || credential?.kind === other) {
    return `${id} is already the id of a ${other}; devices and gateways share one namespace, their MQTT username`;
  }
  const row = kind === 'device' ? existing.device(id) : existing.gateway(id);
  const ownerHome = row?.home_id ?? credential?.home_id;
  if (ownerHome !== undefined && ownerHome !== homeId) {
    return kind === 'device'
      ? `device ${id} already belongs to home ${ownerHome}; moving it is an admin action, not an import: POST /api/v1/devices/${id}/move`
      : `gateway ${id} already belongs to home ${ownerHome}; a gateway does not move between homes: give this one another id (a home's gateway is replaced with POST /api/v1/homes/{homeId}/gateway)`;
  }
  if (credential && credential.home_id !== homeId) {
    return `the MQTT credential ${id} belongs to home ${credential.home_id}`;
  }
  return undefined;
}

function isObject(v: unknown): v is Loose {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The object elements of an array with their indexes; anything else the schema has refused. */
function objectItems(v: unknown): Array<[number, Loose]> {
  if (!Array.isArray(v)) return [];
  return v.flatMap((x: unknown, i): Array<[number, Loose]> => (isObject(x) ? [[i, x]] : []));
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifySecret } from '../../../server/auth/secrets.js';
import { ImportError, importDocument, type ImportProblem } from '../../../server/import/importer.js';
import type { ImportDocument } from '../../../server/import/importSchema.js';
import { openDatabase, type Db } from '../../../server/store/sqliteDb.js';

const TABLES = ['users', 'homes', 'residents', 'gateways', 'devices', 'mqtt_credentials', 'audit'] as const;

/** SPEC §6's example, extended to a second home, an operator and every optional field. */
function districtDocument(): ImportDocument & { homes: NonNullable<ImportDocument['homes']> } {
  return {
    homes: [
      {
        id: 'wh-0001', address: '威海市环翠区文化西路 1 号 2 单元 301', phone: '+86 631 5550001', access: '钥匙在 302 室邻居处',
        residents: [{
          id: 'r-0001', name: '王秀英', birthYear: 1941, sex: 'F',
          conditions: ['hypertension', 'diabetes'], doctor: 'dr-li',
          contacts: [{ name: '王强', relation: 'son', phone: '+86 139 0000 0001' }, { name: '社区网格员', phone: '+86 631 5550100' }],
          targets: { bp_high: { systolic: 170 } },
        }],
        gateway: { id: 'gw-0001' },
        devices: [
          { id: 'bp-0001', type: 'bp_cuff', resident: 'r-0001' },
          { id: 'fall-0001', type: 'fall_sensor', heartbeatSeconds: 300 },
        ],
      },
      {
        id: 'wh-0002', address: '威海市环翠区青岛北路 8 号',
        residents: [
          { id: 'r-0002', name: '李建国', birthYear: 1938, sex: 'M', doctor: 'dr-li' },
          { id: 'r-0003', name: '张桂兰', birthYear: 1940, sex: 'F' },
        ],
        gateway: { id: 'gw-0002' },
        devices: [
          { id: 'sos-0002', type: 'sos_button', resident: 'r-0003' },
          { id: 'fall-0002', type: 'fall_sensor' },
        ],
      },
    ],
    users: [
      { username: 'dr-li', role: 'doctor', name: '李医生' },
      { username: 'op-zhang', role: 'operator' },
    ],
  };
}

const dirs: string[] = [];
const dbs: Db[] = [];

function freshDb(): Db {
  const dir = mkdtempSync(join(tmpdir(), 'anxin-'));
  dirs.push(dir);
  const db = openDatabase(dir, 'normal');
  dbs.push(db);
  return db;
}

function rowCounts(db: Db): Record<string, number> {
  return Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number]));
}

function updatedAts(db: Db): Record<string, number> {
  const all: Record<string, number> = {};
  for (const [table, key] of [['users', 'username'], ['homes', 'id'], ['residents', 'id'], ['gateways', 'id'], ['devices', 'id']] as const) {
    for (const r of db.prepare(`SELECT ${key} AS k, updated_at AS u FROM ${table}`).all() as Array<{ k: string; u: number }>) all[`${table}/${r.k}`] = r.u;
  }
  return all;
}

/** The problems of a refused import; fails the test if the import went through. */
async function problemsOf(db: Db, doc: unknown): Promise<ImportProblem[]> {
  const err = await importDocument(db, doc, { actor: 'test' }).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ImportError);
  return (err as ImportError).errors;
}

afterAll(() => {
  for (const db of dbs) db.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('importDocument: a valid document', () => {
  it('creates every row and returns each new secret once, in document order', async () => {
    const db = freshDb();
    const result = await importDocument(db, districtDocument(), { actor: 'admin', now: 1_000 });

    expect(result.credentials.map((c) => [c.username, c.kind])).toEqual([
      ['gw-0001', 'gateway'], ['bp-0001', 'device'], ['fall-0001', 'device'],
      ['gw-0002', 'gateway'], ['sos-0002', 'device'], ['fall-0002', 'device'],
    ]);
    expect(result.users.map((u) => u.username)).toEqual(['dr-li', 'op-zhang']);
    expect(result.created).toEqual({ homes: 2, residents: 3, devices: 4, gateways: 2, users: 2 });
    expect(result.updated).toEqual({ homes: 0, residents: 0, devices: 0, gateways: 0, users: 0 });
    expect(result.unchanged).toEqual({ homes: 0, residents: 0, devices: 0, gateways: 0, users: 0 });
    expect(rowCounts(db)).toEqual({ users: 2, homes: 2, residents: 3, gateways: 2, devices: 4, mqtt_credentials: 6, audit: 1 });

    for (const c of result.credentials) {
      const row = db.prepare('SELECT kind, home_id, secret_hash FROM mqtt_credentials WHERE username = ?').get(c.username) as
        { kind: string; home_id: string; secret_hash: string };
      expect(row.kind).toBe(c.kind);
      expect(row.secret_hash).not.toContain(c.password);
      expect(await verifySecret(c.password, row.secret_hash)).toBe(true);
      expect(await verifySecret(`${c.password}x`, row.secret_hash)).toBe(false);
    }
    expect(db.prepare("SELECT home_id FROM mqtt_credentials WHERE username = 'sos-0002'").pluck().get()).toBe('wh-0002');
    const doctor = result.users[0]!;
    const userHash = db.prepare('SELECT password_hash FROM users WHERE username = ?').pluck().get(doctor.username) as string;
    expect(userHash).not.toContain(doctor.password);
    expect(await verifySecret(doctor.password, userHash)).toBe(true);

    expect(db.prepare("SELECT * FROM residents WHERE id = 'r-0001'").get()).toMatchObject({
      home_id: 'wh-0001', name: '王秀英', birth_year: 1941, sex: 'F', doctor: 'dr-li',
      conditions: '["hypertension","diabetes"]',
      contacts: JSON.stringify(districtDocument().homes[0]!.residents![0]!.contacts),
      targets: '{"bp_high":{"systolic":170}}', created_at: 1_000, updated_at: 1_000,
    });
    expect(db.prepare("SELECT * FROM devices WHERE id = 'bp-0001'").get()).toMatchObject({ home_id: 'wh-0001', type: 'bp_cuff', resident_id: 'r-0001', heartbeat_seconds: null });
    expect(db.prepare("SELECT * FROM homes WHERE id = 'wh-0001'").get()).toMatchObject({ phone: '+86 631 5550001', access: '钥匙在 302 室邻居处' });
    expect(db.prepare("SELECT role, name FROM users WHERE username = 'op-zhang'").get()).toEqual({ role: 'operator', name: null });

    const audit = db.prepare('SELECT actor, action, detail FROM audit').get() as { actor: string; action: string; detail: string };
    expect(audit).toMatchObject({ actor: 'admin', action: 'import' });
    expect(JSON.parse(audit.detail)).toMatchObject({ created: result.created });
    for (const secret of [...result.credentials, ...result.users]) expect(audit.detail).not.toContain(secret.password);
  });

  it('changes nothing and issues nothing when the same document is imported again', async () => {
    const db = freshDb();
    await importDocument(db, districtDocument(), { actor: 'admin', now: 1_000 });
    const hashes = db.prepare('SELECT username, secret_hash FROM mqtt_credentials ORDER BY username').all();
    const before = updatedAts(db);

    const again = await importDocument(db, districtDocument(), { actor: 'admin', now: 2_000 });

    expect(again.credentials).toEqual([]);
    expect(again.users).toEqual([]);
    expect(again.created).toEqual({ homes: 0, residents: 0, devices: 0, gateways: 0, users: 0 });
    expect(again.updated).toEqual({ homes: 0, residents: 0, devices: 0, gateways: 0, users: 0 });
    expect(again.unchanged).toEqual({ homes: 2, residents: 3, devices: 4, gateways: 2, users: 2 });
    expect(updatedAts(db)).toEqual(before);
    expect(db.prepare('SELECT username, secret_hash FROM mqtt_credentials ORDER BY username').all()).toEqual(hashes);
    expect(rowCounts(db).audit).toBe(2); // who imported is recorded even when nothing changed
  });

  it('updates only what changed, keeps what the document leaves out, and issues secrets only for new devices', async () => {
    const db = freshDb();
    await importDocument(db, districtDocument(), { actor: 'admin', now: 1_000 });
    const doc = districtDocument();
    doc.homes[0]!.address = '威海市环翠区文化西路 1 号 2 单元 302';
    doc.homes[1]!.devices!.push({ id: 'motion-0002', type: 'motion_sensor' });
    // A re-export without the doctor's targets and contacts must not wipe them.
    const resident = doc.homes[0]!.residents![0]!;
    delete resident.targets;
    delete resident.contacts;

    const result = await importDocument(db, doc, { actor: 'admin', now: 2_000 });

    expect(result.updated).toEqual({ homes: 1, residents: 0, devices: 0, gateways: 0, users: 0 });
    expect(result.created).toEqual({ homes: 0, residents: 0, devices: 1, gateways: 0, users: 0 });
    expect(result.credentials.map((c) => c.username)).toEqual(['motion-0002']);
    expect(result.users).toEqual([]);
    expect(db.prepare("SELECT address, updated_at FROM homes WHERE id = 'wh-0001'").get()).toEqual({ address: doc.homes[0]!.address, updated_at: 2_000 });
    expect(db.prepare("SELECT updated_at FROM homes WHERE id = 'wh-0002'").pluck().get()).toBe(1_000);
    expect(db.prepare("SELECT targets FROM residents WHERE id = 'r-0001'").pluck().get()).toBe('{"bp_high":{"systolic":170}}');
  });

  it('treats targets with keys in another order as unchanged, and changed targets as an update', async () => {
    const db = freshDb();
    const doc = { homes: [{ id: 'h-1', address: 'a', residents: [{ id: 'r-1', name: 'n', targets: { bp_high: { systolic: 170, diastolic: 105 }, glucose_low: { value: 4.4 } } }] }] };
    await importDocument(db, doc, { actor: 'admin' });
    const reordered = { homes: [{ id: 'h-1', address: 'a', residents: [{ id: 'r-1', name: 'n', targets: { glucose_low: { value: 4.4 }, bp_high: { diastolic: 105, systolic: 170 } } }] }] };
    expect((await importDocument(db, reordered, { actor: 'admin' })).unchanged.residents).toBe(1);
    reordered.homes[0]!.residents[0]!.targets.glucose_low.value = 4.0;
    expect((await importDocument(db, reordered, { actor: 'admin' })).updated.residents).toBe(1);
  });

  it('issues each secret once when two imports of one document race', async () => {
    const db = freshDb();
    const doc = { homes: [{ id: 'h-1', address: 'a', gateway: { id: 'g-1' }, devices: [{ id: 'd-1', type: 'sos_button' }] }] };
    // Both pass the checks and hash before either writes; the second must see the first's rows.
    const [a, b] = await Promise.all([importDocument(db, doc, { actor: 'a' }), importDocument(db, doc, { actor: 'b' })]);
    expect([...a.credentials, ...b.credentials].map((c) => c.username).sort()).toEqual(['d-1', 'g-1']);
    expect(a.created.devices + b.created.devices).toBe(1);
    expect(rowCounts(db)).toMatchObject({ mqtt_credentials: 2, devices: 1, audit: 2 });
  });

  it('issues a credential for a known device whose credential is missing, and never re-issues an existing one', async () => {
    const db = freshDb();
    await importDocument(db, { homes: [{ id: 'h-1', address: 'a', devices: [{ id: 'd-1', type: 'sos_button' }, { id: 'd-2', type: 'sos_button' }] }] }, { actor: 'admin' });
    db.prepare("DELETE FROM mqtt_credentials WHERE username = 'd-1'").run();
    const result = await importDocument(db, { homes: [{ id: 'h-1', address: 'a', devices: [{ id: 'd-1', type: 'sos_button' }, { id: 'd-2', type: 'sos_button' }] }] }, { actor: 'admin' });
    expect(result.credentials.map((c) => c.username)).toEqual(['d-1']);
  });
});

describe('importDocument: an invalid document', () => {
  const db = freshDb();
  beforeAll(async () => {
    await importDocument(db, districtDocument(), { actor: 'admin', now: 1_000 });
    db.prepare("INSERT INTO users (username, role, password_hash, disabled, created_at, updated_at) VALUES ('dr-off', 'doctor', 'x', 1, 0, 0)").run();
  });
  afterEach(() => { expect(rowCounts(db)).toEqual({ users: 3, homes: 2, residents: 3, gateways: 2, devices: 4, mqtt_credentials: 6, audit: 1 }); });

  it('names every problem at once by its path, and writes nothing', async () => {
    const before = updatedAts(db);
    const doc = {
      homes: [
        { id: 'WH 3', address: '某路 3 号' },
        {
          id: 'wh-0004', address: '某路 4 号', phone: '+86 631 5550004',
          residents: [{ id: 'r-0040', name: '赵大爷', doctor: 'dr-nobody' }],
          devices: [
            { id: 'thermo-0040', type: 'thermometer' },
            { id: 'bp-0040', type: 'bp_cuff', resident: 'r-0002' },
          ],
        },
        { id: 'wh-0005', adress: '某路 5 号', devices: [{ id: 'bp-0040', type: 'bp_cuff' }] },
      ],
      users: [{ username: 'op-wang', role: 'operator' }],
    };
    // Valid changes in the same document (a new user, a new home) must not be written either.
    const problems = await problemsOf(db, doc);

    const expected: Array<[string, RegExp]> = [
      ['/homes/0/id', /must be 1 to 64 lower-case letters/],
      ['/homes/1/devices/0/type', /must be one of bp_cuff, glucose_meter, fall_sensor, sos_button, motion_sensor/],
      ['/homes/1/devices/1/resident', /r-0002 is a resident of home wh-0002, not of wh-0004/],
      ['/homes/1/residents/0/doctor', /no user dr-nobody/],
      ['/homes/2/address', /is required/],
      ['/homes/2/adress', /is not a known field/],
      ['/homes/2/devices/0/id', /duplicates \/homes\/1\/devices\/1\/id/],
    ];
    expect(problems.map((p) => p.path).sort()).toEqual(expected.map(([path]) => path).sort());
    for (const [path, message] of expected) expect(problems.find((p) => p.path === path)?.message).toMatch(message);
    expect(updatedAts(db)).toEqual(before);
  });

  const home1 = (extra: object) => ({ homes: [{ id: 'wh-0001', address: '威海市环翠区文化西路 1 号 2 单元 301', ...extra }] });
  const newHome = (extra: object) => ({ homes: [{ id: 'wh-0003', address: '某路 3 号', ...extra }] });
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['a device id that is an existing gateway id', home1({ devices: [{ id: 'gw-0002', type: 'sos_button' }] }), '/homes/0/devices/0/id', /gw-0002 is already the id of a gateway/],
    ['a gateway id that is an existing device id', newHome({ gateway: { id: 'bp-0001' } }), '/homes/0/gateway/id', /bp-0001 is already the id of a device/],
    ['a device and a gateway with one id in the document', newHome({ gateway: { id: 'x-1' }, devices: [{ id: 'x-1', type: 'sos_button' }] }), '/homes/0/devices/0/id', /duplicates \/homes\/0\/gateway\/id: devices and gateways share one namespace/],
    ['a device already in another home', home1({ devices: [{ id: 'fall-0002', type: 'fall_sensor' }] }), '/homes/0/devices/0/id', /already belongs to home wh-0002/],
    ['a resident already in another home', home1({ residents: [{ id: 'r-0002', name: '李建国' }] }), '/homes/0/residents/0/id', /already lives in home wh-0002/],
    ['a gateway already in another home', newHome({ gateway: { id: 'gw-0001' } }), '/homes/0/gateway/id', /already belongs to home wh-0001/],
    ['a second gateway for a home', home1({ gateway: { id: 'gw-0009' } }), '/homes/0/gateway/id', /already has gateway gw-0001/],
    ['a user with another role', { users: [{ username: 'dr-li', role: 'operator' }] }, '/users/0/role', /already exists with role doctor/],
    ['a doctor who is an operator', home1({ residents: [{ id: 'r-0001', name: '王秀英', doctor: 'op-zhang' }] }), '/homes/0/residents/0/doctor', /role operator, not doctor/],
    ['a disabled doctor', home1({ residents: [{ id: 'r-0001', name: '王秀英', doctor: 'dr-off' }] }), '/homes/0/residents/0/doctor', /doctor dr-off is disabled/],
    ['a doctor declared with another role in the document', { ...newHome({ residents: [{ id: 'r-9', name: 'n', doctor: 'op-x' }] }), users: [{ username: 'op-x', role: 'operator' }] }, '/homes/0/residents/0/doctor', /declared at \/users\/0 with role operator/],
    ['a device bound to a resident of another home in the document', { homes: [...newHome({ devices: [{ id: 'd-9', type: 'bp_cuff', resident: 'r-9' }] }).homes, { id: 'wh-0009', address: 'x', residents: [{ id: 'r-9', name: 'n' }] }] }, '/homes/0/devices/0/resident', /r-9 is a resident of home wh-0009, not of wh-0003/],
    ['a device bound to an unknown resident', newHome({ devices: [{ id: 'd-9', type: 'bp_cuff', resident: 'r-404' }] }), '/homes/0/devices/0/resident', /no resident r-404/],
    ['more than 4 residents with those already stored', home1({ residents: ['a', 'b', 'c', 'd'].map((x) => ({ id: `r-${x}`, name: x })) }), '/homes/0/residents', /would have 5 residents/],
    ['a duplicate home', { homes: [...newHome({}).homes, ...newHome({}).homes] }, '/homes/1/id', /duplicates \/homes\/0\/id/],
    ['a duplicate resident across homes', { homes: [...newHome({ residents: [{ id: 'r-9', name: 'n' }] }).homes, { id: 'wh-0009', address: 'x', residents: [{ id: 'r-9', name: 'n' }] }] }, '/homes/1/residents/0/id', /duplicates \/homes\/0\/residents\/0\/id/],
    ['a duplicate user', { users: [{ username: 'op-x', role: 'operator' }, { username: 'op-x', role: 'operator' }] }, '/users/1/username', /duplicates \/users\/0\/username/],
    ['a birth year out of range', newHome({ residents: [{ id: 'r-9', name: 'n', birthYear: 1890 }] }), '/homes/0/residents/0/birthYear', /must be >= 1900/],
    ['a heartbeat that is too short', newHome({ devices: [{ id: 'd-9', type: 'bp_cuff', heartbeatSeconds: 5 }] }), '/homes/0/devices/0/heartbeatSeconds', /must be >= 30/],
    ['a threshold that is not a number', newHome({ residents: [{ id: 'r-9', name: 'n', targets: { bp_high: { systolic: '170' } } }] }), '/homes/0/residents/0/targets/bp_high/systolic', /must be number/],
    ['a blank address', newHome({ address: '   ' }), '/homes/0/address', /must not be blank/],
    ['a misspelt contact field', newHome({ residents: [{ id: 'r-9', name: 'n', contacts: [{ name: 'x', phone: '123', relatoin: 'son' }] }] }), '/homes/0/residents/0/contacts/0/relatoin', /is not a known field/],
    ['a document that is not an object', [], '/', /must be object/],
  ];
  it.each(cases)('refuses %s', async (_name, doc, path, message) => {
    const problems = await problemsOf(db, doc);
    expect(problems).toEqual([{ path, message: expect.stringMatching(message) }]);
  });
});

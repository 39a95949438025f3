/**
 * Homes, residents, devices, gateways, MQTT identities and their live status,
 * in the embedded SQLite file. Device and resident lookups on the ingest hot
 * path are served from memory and refreshed after every directory change.
 */
import type { DeviceType } from '../../devices/deviceTypes.js';
import type { DeviceStatusPayload, GatewayStatusPayload } from '../../devices/readingSchema.js';
import type { GroupCommit } from './groupCommit.js';
import type { Db } from './sqliteDb.js';

export type ClientKind = 'device' | 'gateway';

export interface Credential {
  username: string;
  kind: ClientKind;
  homeId: string;
  secretHash: string;
}

export interface DeviceInfo {
  id: string;
  homeId: string;
  type: DeviceType;
  residentId: string | null;
  heartbeatSeconds: number | null;
}

/** A device or gateway as provisioned: one never heard from is silent since `createdAt` (time rules). */
export interface ProvisionedDevice extends DeviceInfo {
  createdAt: number;
}

export interface GatewayInfo {
  id: string;
  homeId: string;
  createdAt: number;
}

/** What the ingest and the rules need of a resident on every reading, kept in memory. */
export interface ResidentInfo {
  homeId: string;
  doctor: string | null;
  targets: Record<string, Record<string, number>>;
  schedule: Array<{ type: string; time: string }>;
  /** When the resident was enrolled: missed measurements are not counted before it. */
  createdAt: number;
}

export interface Contact {
  name: string;
  relation?: string;
  phone: string;
}

export interface ResidentRecord {
  id: string;
  homeId: string;
  name: string;
  birthYear: number | null;
  sex: string | null;
  doctor: string | null;
  conditions: string[];
  contacts: Contact[];
  targets: Record<string, Record<string, number>>;
  /** Daily measurements expected of this resident, e.g. `{ type: 'blood_pressure', time: '10:00' }`. */
  schedule: Array<{ type: string; time: string }>;
}

export interface HomeRecord {
  id: string;
  address: string;
  phone: string | null;
  access: string | null;
  gatewayId: string | null;
}

export interface ClientStatus {
  online: boolean | null;
  statusAt: number | null;
  battery: number | null;
  rssi: number | null;
  firmware: string | null;
  outboxDepth: number | null;
  version: string | null;
  connected: boolean;
  connectedAt: number | null;
  disconnectedAt: number | null;
}

const NO_PATIENTS: ReadonlySet<string> = new Set();

export class DirectoryStore {
  private devices = new Map<string, ProvisionedDevice>();
  private gateways = new Map<string, GatewayInfo>();
  private residentInfos = new Map<string, ResidentInfo>();
  /** Doctor → their patients' ids, built from `residentInfos` when first asked after each load. */
  private patients: Map<string, Set<string>> | null = null;
  private readonly credentialStmt;
  private readonly statusStmt;
  private readonly connectionStmt;
  /** directory_version's count when the cache was loaded (triggers bump it on every directory change). */
  private dataVersion = -1;
  /** The cache was loaded inside a transaction that has not committed yet (an admin action's job). */
  private uncommitted = false;
  private readonly versionStmt;

  constructor(private readonly db: Db, private readonly writer: GroupCommit) {
    this.versionStmt = db.prepare<[], number>('SELECT version FROM directory_version').pluck();
    this.credentialStmt = db.prepare('SELECT username, kind, home_id AS homeId, secret_hash AS secretHash FROM mqtt_credentials WHERE username = ?');
    this.statusStmt = writer.statement(`
      INSERT INTO client_status (client_id, kind, home_id, online, status_at, battery, rssi, firmware, outbox_depth, version)
      VALUES (@clientId, @kind, @homeId, @online, @at, @battery, @rssi, @firmware, @outboxDepth, @version)
      ON CONFLICT (client_id) DO UPDATE SET online = excluded.online, status_at = excluded.status_at,
        battery = coalesce(excluded.battery, battery), rssi = coalesce(excluded.rssi, rssi),
        firmware = coalesce(excluded.firmware, firmware), outbox_depth = coalesce(excluded.outbox_depth, outbox_depth),
        version = coalesce(excluded.version, version)`);
    this.connectionStmt = writer.statement(`
      INSERT INTO client_status (client_id, kind, home_id, connected, connected_at, disconnected_at)
      VALUES (@clientId, @kind, @homeId, @connected, @connectedAt, @disconnectedAt)
      ON CONFLICT (client_id) DO UPDATE SET connected = excluded.connected,
        connected_at = coalesce(excluded.connected_at, connected_at),
        disconnected_at = coalesce(excluded.disconnected_at, disconnected_at)`);
    // A cache loaded inside a group-commit job shows its writes to the jobs after it in the same
    // transaction (a watchdog tick must not judge a device just retired). If that transaction rolls
    // back, load it again: the directory's counter is back too, and could match the cache's by the
    // next change, which would then never be loaded.
    writer.addHooks({
      committed: () => { this.uncommitted = false; },
      resync: () => {
        if (!this.uncommitted) return;
        this.dataVersion = -1;
        this.reloadCache();
      },
    });
    this.reloadCache();
  }

  /**
   * Re-reads the in-memory lookups; call after any change to homes, residents or devices (inside
   * the group-commit job that makes it, so the jobs after it in its transaction see it). Nothing
   * changed (the counter the directory's triggers bump), nothing to do: re-reading a district of
   * 10,000 homes held the event loop for a fifth of a second after every import, unchanged ones too.
   */
  reloadCache(): void {
    const version = this.versionStmt.get()!;
    if (version === this.dataVersion) return;
    const devices = new Map<string, ProvisionedDevice>();
    for (const d of this.db.prepare('SELECT id, home_id AS homeId, type, resident_id AS residentId, heartbeat_seconds AS heartbeatSeconds, created_at AS createdAt FROM devices').all() as ProvisionedDevice[]) {
      devices.set(d.id, d);
    }
    const gateways = new Map<string, GatewayInfo>();
    for (const g of this.db.prepare('SELECT id, home_id AS homeId, created_at AS createdAt FROM gateways').all() as GatewayInfo[]) gateways.set(g.id, g);
    const residentInfos = new Map<string, ResidentInfo>();
    const rows = this.db.prepare('SELECT id, home_id AS homeId, doctor, targets, schedule, created_at AS createdAt FROM residents').all() as Array<Record<string, string | null>>;
    for (const r of rows) {
      residentInfos.set(r.id!, { homeId: r.homeId!, doctor: r.doctor ?? null, targets: JSON.parse(r.targets!), schedule: JSON.parse(r.schedule!), createdAt: Number(r.createdAt) });
    }
    this.devices = devices;
    this.gateways = gateways;
    this.residentInfos = residentInfos;
    this.patients = null;
    this.dataVersion = version;
    this.uncommitted = this.db.inTransaction;
  }

  /**
   * Reloads the lookups when another process (e.g. `npm run anxin -- import`)
   * changed the directory. Cheap: one point query. The hub calls it every few
   * seconds and on every lookup miss, so a device enrolled by the CLI can
   * publish at once. (SQLite's data_version would not do: the hub's own
   * writer thread changes it with every batch of readings.)
   */
  refreshIfChangedElsewhere(): boolean {
    const version = this.versionStmt.get()!;
    if (version === this.dataVersion) return false;
    this.reloadCache();
    return true;
  }

  credential(username: string): Credential | undefined {
    return this.credentialStmt.get(username) as Credential | undefined;
  }

  /** Replaces a credential's stored hash with `hash` of the same secret, unless it changed meanwhile (a rotation); true if replaced. */
  replaceSecretHash(username: string, stored: string, hash: string): Promise<boolean> {
    // Once per device at most (an old hash upgraded at sign-in): prepared when used.
    return this.writer.run((db) => db.prepare('UPDATE mqtt_credentials SET secret_hash = ? WHERE username = ? AND secret_hash = ?').run(hash, username, stored).changes > 0);
  }

  device(deviceId: string): DeviceInfo | undefined {
    return this.devices.get(deviceId) ?? (this.refreshIfChangedElsewhere() ? this.devices.get(deviceId) : undefined);
  }

  gateway(gatewayId: string): GatewayInfo | undefined {
    return this.gateways.get(gatewayId) ?? (this.refreshIfChangedElsewhere() ? this.gateways.get(gatewayId) : undefined);
  }

  residentHome(residentId: string): string | undefined {
    return this.residentInfo(residentId)?.homeId;
  }

  residentInfo(residentId: string): ResidentInfo | undefined {
    return this.residentInfos.get(residentId) ?? (this.refreshIfChangedElsewhere() ? this.residentInfos.get(residentId) : undefined);
  }

  /** Every resident's cached info, for the time-based rules. */
  allResidentInfos(): ReadonlyMap<string, ResidentInfo> {
    return this.residentInfos;
  }

  /** Every device, for the time-based rules. */
  allDevices(): ReadonlyMap<string, ProvisionedDevice> {
    return this.devices;
  }

  /** Every gateway, for the time-based rules. */
  allGateways(): ReadonlyMap<string, GatewayInfo> {
    return this.gateways;
  }

  /** Records a status message (retained status or last will) in the next group commit. */
  recordStatus(clientId: string, kind: ClientKind, homeId: string, status: DeviceStatusPayload | GatewayStatusPayload, at: number): void {
    const s = status as DeviceStatusPayload & GatewayStatusPayload;
    this.writer.enqueueRecorded(() => this.statusStmt.run({
      clientId, kind, homeId, online: s.online ? 1 : 0, at,
      battery: s.battery ?? null, rssi: s.rssi ?? null, firmware: s.firmware ?? null,
      outboxDepth: s.outboxDepth ?? null, version: s.version ?? null,
    }), () => {});
  }

  recordConnection(clientId: string, kind: ClientKind, homeId: string, connected: boolean, at: number): void {
    this.writer.enqueueRecorded(() => this.connectionStmt.run({
      clientId, kind, homeId, connected: connected ? 1 : 0,
      connectedAt: connected ? at : null, disconnectedAt: connected ? null : at,
    }), () => {});
  }

  /** Marks every client disconnected: after a restart nobody is connected yet. */
  resetConnections(): void {
    this.db.prepare('UPDATE client_status SET connected = 0 WHERE connected = 1').run();
  }

  status(clientId: string): ClientStatus | null {
    const r = this.db.prepare('SELECT * FROM client_status WHERE client_id = ?').get(clientId) as Record<string, unknown> | undefined;
    return r ? presentStatus(r) : null;
  }

  homes(): HomeRecord[] {
    return (this.db.prepare(`SELECT h.*, g.id AS gateway_id FROM homes h LEFT JOIN gateways g ON g.home_id = h.id ORDER BY h.id`).all() as Array<Record<string, unknown>>).map(presentHome);
  }

  home(id: string): HomeRecord | null {
    const r = this.db.prepare(`SELECT h.*, g.id AS gateway_id FROM homes h LEFT JOIN gateways g ON g.home_id = h.id WHERE h.id = ?`).get(id) as Record<string, unknown> | undefined;
    return r ? presentHome(r) : null;
  }

  /** Residents, optionally only those of one home or one doctor. */
  /**
   * The ids of a doctor's patients, from memory: what the live stream asks for every event a doctor's
   * page might see (per commit, per doctor: it was a SQL query and whole resident records each time,
   * 41 % of the hub's CPU with 20 doctors' pages open at 5,000 readings/s).
   */
  patientsOf(doctor: string): ReadonlySet<string> {
    if (!this.patients) {
      this.patients = new Map();
      for (const [id, info] of this.residentInfos) {
        if (info.doctor === null) continue;
        let ids = this.patients.get(info.doctor);
        if (!ids) this.patients.set(info.doctor, (ids = new Set()));
        ids.add(id);
      }
    }
    return this.patients.get(doctor) ?? NO_PATIENTS;
  }

  residents(filter: { homeId?: string; doctor?: string } = {}): ResidentRecord[] {
    const rows = this.db.prepare(
      `SELECT * FROM residents WHERE (@homeId IS NULL OR home_id = @homeId) AND (@doctor IS NULL OR doctor = @doctor) ORDER BY id`,
    ).all({ homeId: filter.homeId ?? null, doctor: filter.doctor ?? null }) as Array<Record<string, unknown>>;
    return rows.map(presentResident);
  }

  resident(id: string): ResidentRecord | null {
    const r = this.db.prepare('SELECT * FROM residents WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? presentResident(r) : null;
  }

  /** Devices with their last known status, optionally of one home. */
  devicesWithStatus(filter: { homeId?: string; residentId?: string } = {}): Array<DeviceInfo & { status: ClientStatus | null }> {
    const rows = this.db.prepare(
      `SELECT d.id, d.home_id AS homeId, d.type, d.resident_id AS residentId, d.heartbeat_seconds AS heartbeatSeconds, s.client_id AS s_id, s.*
       FROM devices d LEFT JOIN client_status s ON s.client_id = d.id
       WHERE (@homeId IS NULL OR d.home_id = @homeId) AND (@residentId IS NULL OR d.resident_id = @residentId) ORDER BY d.id`,
    ).all({ homeId: filter.homeId ?? null, residentId: filter.residentId ?? null }) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      id: r.id as string,
      homeId: r.homeId as string,
      type: r.type as DeviceType,
      residentId: r.residentId as string | null,
      heartbeatSeconds: r.heartbeatSeconds as number | null,
      status: r.s_id ? presentStatus(r) : null,
    }));
  }
}

function presentHome(r: Record<string, unknown>): HomeRecord {
  return { id: r.id as string, address: r.address as string, phone: r.phone as string | null, access: r.access as string | null, gatewayId: r.gateway_id as string | null };
}

function presentResident(r: Record<string, unknown>): ResidentRecord {
  return {
    id: r.id as string,
    homeId: r.home_id as string,
    name: r.name as string,
    birthYear: r.birth_year as number | null,
    sex: r.sex as string | null,
    doctor: r.doctor as string | null,
    conditions: JSON.parse(r.conditions as string) as string[],
    contacts: JSON.parse(r.contacts as string) as Contact[],
    targets: JSON.parse(r.targets as string) as ResidentRecord['targets'],
    schedule: JSON.parse((r.schedule as string | undefined) ?? '[]') as ResidentRecord['schedule'],
  };
}

function presentStatus(r: Record<string, unknown>): ClientStatus {
  return {
    online: r.online === null || r.online === undefined ? null : r.online === 1,
    statusAt: (r.status_at as number | null) ?? null,
    battery: (r.battery as number | null) ?? null,
    rssi: (r.rssi as number | null) ?? null,
    firmware: (r.firmware as string | null) ?? null,
    outboxDepth: (r.outbox_depth as number | null) ?? null,
    version: (r.version as string | null) ?? null,
    connected: r.connected === 1,
    connectedAt: (r.connected_at as number | null) ?? null,
    disconnectedAt: (r.disconnected_at as number | null) ?? null,
  };
}

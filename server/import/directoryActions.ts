/**
 * The directory changes an import refuses to make (importChecks.ts), as admin
 * actions: move a resident or a device to another home, replace a home's
 * gateway, retire a device; and move a doctor's patients to another doctor,
 * with what is in the first doctor's queue. Each is one group-commit job (checks, directory
 * rows, MQTT credential, the alerts it ends, the audit entry, the directory's
 * cache reloaded), so it is atomic and serialized with the ingest and the
 * rules. Then every session whose access changed is closed: the broker fixed
 * a client's home at sign-in (server/broker/acl.ts), so a moved device must
 * sign in again to publish for its new home, and a revoked one cannot.
 *
 * What each keeps: readings stay where they were measured (their home is
 * history); a resident keeps targets, schedule, doctor and readings; alert
 * history is never deleted.
 */
import type { Logger } from 'pino';
import type { AlertEngine } from '../alerts/alertEngine.js';
import type { AlertService } from '../alerts/alertService.js';
import type { Alert, AlertStore } from '../alerts/alertStore.js';
import { generateSecret, hashSecret } from '../auth/secrets.js';
import type { EventLog } from '../realtime/eventLog.js';
import type { DirectoryStore } from '../store/directoryStore.js';
import type { GroupCommit } from '../store/groupCommit.js';
import type { Db } from '../store/sqliteDb.js';
import { escalatedToDoctor, isDoctorWarning, type UserStore } from '../store/userStore.js';
import { MAX_RESIDENTS_PER_HOME } from './importSchema.js';
import { retirementOf, retirementProblem, retirementText } from './retiredIdentities.js';

export interface DirectoryActionsDeps {
  writer: GroupCommit;
  directory: DirectoryStore;
  engine: AlertEngine;
  alerts: AlertStore;
  users: UserStore;
  /** Hands escalations over to another doctor, telling them (moveDoctorPatients only). */
  alertService?: Pick<AlertService, 'handOverEscalation'>;
  /** The live stream's log: a moved patient's doctors' pages are told (moveDoctorPatients only). */
  events?: Pick<EventLog, 'append'>;
  /** Closes a device's or gateway's MQTT session, if it has one (HubBroker.forget). */
  closeSession: (username: string) => void;
  log: Logger;
  now: () => number;
}

/** Why an action was not taken; nothing was written. `field` names the request field it is about. */
export interface ActionRefusal {
  ok: false;
  status: 400 | 404 | 409;
  code: string;
  message: string;
  field?: string;
  errors?: Array<{ path: string; message: string }>;
}

export type ActionResult<T> = { ok: true; value: T } | ActionRefusal;

/** What happens to the devices bound to a resident who moves: they go along, or stay and are unbound. */
export type BoundDevices = 'move' | 'unbind';

export interface ResidentMoved { residentId: string; fromHomeId: string; homeId: string; movedDevices: string[]; unboundDevices: string[]; resolvedAlerts: string[] }
export interface DeviceMoved { deviceId: string; fromHomeId: string; homeId: string; residentId: string | null; resolvedAlerts: string[] }
export interface GatewayReplaced { homeId: string; gatewayId: string; previousGatewayId: string; password: string }
export interface DeviceRetired { deviceId: string; homeId: string; retiredAt: number; resolvedAlerts: string[] }
/** `escalations`: alerts escalated to `from`, now to `to` (who was told); `warnings`: the moved patients' warnings, now in `to`'s queue. */
export interface PatientsMoved { from: string; to: string; residents: string[]; escalations: string[]; warnings: string[] }

const refuse = (status: ActionRefusal['status'], code: string, message: string, field?: string, errors?: ActionRefusal['errors']): ActionRefusal =>
  ({ ok: false, status, code, message, ...(field !== undefined && { field }), ...(errors !== undefined && { errors }) });

interface DeviceRow { id: string; home_id: string; type: string; resident_id: string | null }

export class DirectoryActions {
  constructor(private readonly deps: DirectoryActionsDeps) {}

  /**
   * Moves a resident to another home. Refused while an alert of theirs is
   * unresolved: it belongs to the old home's incident, and whoever handles it
   * must see the address it happened at, not the new one (an ambulance goes
   * there). Devices bound to them go along (`move`: a pendant, a cuff) or stay
   * and are unbound (`unbind`); with bound devices one must be chosen.
   */
  moveResident(residentId: string, to: { homeId: string; devices?: BoundDevices }, actor: string): Promise<ActionResult<ResidentMoved>> {
    return this.act('resident.moved', actor, residentId, (db, at) => {
      const row = db.prepare('SELECT home_id FROM residents WHERE id = ?').pluck().get(residentId) as string | undefined;
      if (row === undefined) return refuse(404, 'not_found', `resident ${residentId} does not exist`, 'id');
      const target = this.targetHome(db, to.homeId, row, `resident ${residentId} already lives in home ${row}`);
      if (target) return target;
      const count = db.prepare('SELECT count(*) FROM residents WHERE home_id = ?').pluck().get(to.homeId) as number;
      if (count >= MAX_RESIDENTS_PER_HOME) {
        return refuse(409, 'home_full', `home ${to.homeId} already has ${count} residents; at most ${MAX_RESIDENTS_PER_HOME}`, 'homeId');
      }
      const open = this.deps.engine.unresolved().filter((a) => a.dedupeKey.startsWith(`resident:${residentId}:`));
      if (open.length > 0) {
        return refuse(409, 'unresolved_alerts',
          `resident ${residentId} has ${open.length} unresolved alert(s) at home ${row}; the call center resolves them before the move`, 'id',
          open.map((a) => ({ path: `/alerts/${a.id}`, message: `${a.rule}, ${a.severity}, ${a.state}` })));
      }
      const bound = db.prepare('SELECT id FROM devices WHERE resident_id = ? ORDER BY id').pluck().all(residentId) as string[];
      if (bound.length > 0 && to.devices === undefined) {
        return refuse(409, 'devices_bound',
          `resident ${residentId} has bound devices (${bound.join(', ')}); say whether they move along ("devices": "move") or stay in home ${row} unbound ("devices": "unbind")`,
          'devices', bound.map((id) => ({ path: `/devices/${id}`, message: `bound to ${residentId}` })));
      }
      db.prepare('UPDATE residents SET home_id = ?, updated_at = ? WHERE id = ?').run(to.homeId, at, residentId);
      const moved = to.devices === 'move' ? bound : [];
      const resolvedAlerts = moved.flatMap((id) => this.moveDeviceRows(db, id, row, to.homeId, residentId, at, actor));
      if (to.devices === 'unbind') db.prepare('UPDATE devices SET resident_id = NULL, updated_at = ? WHERE resident_id = ?').run(at, residentId);
      const value = { residentId, fromHomeId: row, homeId: to.homeId, movedDevices: moved, unboundDevices: to.devices === 'unbind' ? bound : [], resolvedAlerts };
      return { value, sessions: moved, audit: { from: row, to: to.homeId, movedDevices: moved, unboundDevices: value.unboundDevices, resolvedAlerts } };
    });
  }

  /**
   * Moves a device to another home, bound to one of its residents or to none.
   * Its device-level alerts (offline, battery) were about the old home: they
   * are resolved with a note saying so; from now its silence counts for the new home.
   */
  moveDevice(deviceId: string, to: { homeId: string; resident?: string }, actor: string): Promise<ActionResult<DeviceMoved>> {
    return this.act('device.moved', actor, deviceId, (db, at) => {
      const device = this.existingDevice(db, deviceId);
      if (!('id' in device)) return device;
      const target = this.targetHome(db, to.homeId, device.home_id, `device ${deviceId} is already in home ${device.home_id}; bind it to another resident with PUT /api/v1/devices/${deviceId}`);
      if (target) return target;
      if (to.resident !== undefined) {
        const home = db.prepare('SELECT home_id FROM residents WHERE id = ?').pluck().get(to.resident) as string | undefined;
        if (home !== to.homeId) {
          return refuse(400, 'invalid_request', home === undefined ? `resident ${to.resident} does not exist` : `${to.resident} is a resident of home ${home}, not of ${to.homeId}`, 'resident');
        }
      }
      const residentId = to.resident ?? null;
      const resolvedAlerts = this.moveDeviceRows(db, deviceId, device.home_id, to.homeId, residentId, at, actor);
      const value = { deviceId, fromHomeId: device.home_id, homeId: to.homeId, residentId, resolvedAlerts };
      return { value, sessions: [deviceId], audit: { from: device.home_id, to: to.homeId, residentId, previousResidentId: device.resident_id, resolvedAlerts } };
    });
  }

  /**
   * Gives a home a new gateway: a new credential (its secret returned here,
   * once) and the old one revoked at once, its session closed. The home's
   * gateway_offline state is the home's, not the gateway's: an open one stays
   * open (the home is unheard until the new gateway connects, which clears it),
   * with a note that the gateway was replaced.
   */
  async replaceGateway(homeId: string, gatewayId: string, actor: string): Promise<ActionResult<GatewayReplaced>> {
    const password = generateSecret();
    const hash = await hashSecret(password, 'device');
    return this.act('gateway.replaced', actor, null, (db, at) => {
      if (!db.prepare('SELECT 1 FROM homes WHERE id = ?').get(homeId)) return refuse(404, 'not_found', `home ${homeId} does not exist`);
      const old = db.prepare('SELECT id FROM gateways WHERE home_id = ?').pluck().get(homeId) as string | undefined;
      if (old === undefined) {
        return refuse(409, 'no_gateway', `home ${homeId} has no gateway to replace; enrol one with PUT /api/v1/homes/${homeId} ({"gateway": {"id": …}})`, 'id');
      }
      const taken = this.idTaken(db, gatewayId);
      if (taken) return refuse(409, 'id_taken', taken, 'id');
      db.prepare('DELETE FROM mqtt_credentials WHERE username = ?').run(old);
      db.prepare('DELETE FROM gateways WHERE id = ?').run(old);
      db.prepare('INSERT INTO gateways (id, home_id, created_at, updated_at) VALUES (?, ?, ?, ?)').run(gatewayId, homeId, at, at);
      db.prepare(`INSERT INTO mqtt_credentials (username, kind, home_id, secret_hash, created_at, rotated_at) VALUES (?, 'gateway', ?, ?, ?, ?)`)
        .run(gatewayId, homeId, hash, at, at);
      const offline = this.deps.engine.openByKey(`home:${homeId}:gateway_offline`);
      if (offline) {
        this.note(offline, at, actor, `网关已更换：${old} → ${gatewayId}（管理员 ${actor}），新网关上线后即恢复 / Gateway replaced: ${old} → ${gatewayId} by ${actor}; this clears when the new gateway connects`);
      }
      // The audit entry's subject is the revoked id: that is what keeps it from being issued again (retiredIdentities.ts).
      return { value: { homeId, gatewayId, previousGatewayId: old, password }, sessions: [old], subject: old, audit: { homeId, replacedBy: gatewayId } };
    });
  }

  /**
   * Retires a device: its credential is revoked and its session closed, it is
   * no longer watched (no device_offline), and its open device-level alerts
   * are resolved with a note. Its readings and alert history stay; its id is
   * never issued again (retiredIdentities.ts).
   */
  retireDevice(deviceId: string, actor: string): Promise<ActionResult<DeviceRetired>> {
    return this.act('device.retired', actor, deviceId, (db, at) => {
      const device = this.existingDevice(db, deviceId);
      if (!('id' in device)) return device;
      const resolvedAlerts = this.endDeviceAlerts(deviceId, at, actor, 'device.retired',
        `设备已由管理员 ${actor} 停用，不再监测 / Device retired by ${actor}; it is no longer monitored`);
      db.prepare('DELETE FROM mqtt_credentials WHERE username = ?').run(deviceId);
      db.prepare('DELETE FROM devices WHERE id = ?').run(deviceId);
      const value = { deviceId, homeId: device.home_id, retiredAt: at, resolvedAlerts };
      return { value, sessions: [deviceId], audit: { homeId: device.home_id, type: device.type, residentId: device.resident_id, resolvedAlerts } };
    });
  }

  /**
   * Moves patients of doctor `from` to doctor `to`: all of them, or those named
   * (each must be `from`'s). What sits in `from`'s queue follows the patient:
   * an alert escalated to `from` is handed over to `to` and `to` is told as of
   * any escalation (AlertService.handOverEscalation); a warning, which only
   * the family doctor reviews, gets a note and is in `to`'s queue from now.
   * Moving all also takes the escalations to `from` of a home with no resident
   * named (a home-level alert) and of residents no longer theirs, so `from`'s
   * queue is empty after it and the account can be disabled. `to` must be an
   * enabled doctor; `from` may already be disabled (the missed-care state this
   * repairs). Readings, targets and alert history stay as they are.
   */
  moveDoctorPatients(from: string, to: { doctor: string; residents?: string[] }, actor: string): Promise<ActionResult<PatientsMoved>> {
    const { alertService } = this.deps;
    if (!alertService) throw new Error('moveDoctorPatients needs the alert service');
    return this.act('patients.moved', actor, from, (db, at) => {
      const problem = this.doctorsProblem(db, from, to.doctor);
      if (problem) return problem;
      const residents = to.residents === undefined
        ? db.prepare('SELECT id FROM residents WHERE doctor = ? ORDER BY id').pluck().all(from) as string[]
        : [...new Set(to.residents)];
      if (to.residents !== undefined) {
        const doctorOf = db.prepare('SELECT doctor FROM residents WHERE id = ?').pluck();
        const errors = residents.flatMap((id) => {
          const row = doctorOf.get(id) as string | null | undefined;
          if (row === from) return [];
          const why = row === undefined ? `resident ${id} does not exist` : `resident ${id} is ${row === null ? 'nobody' : row}'s patient, not ${from}'s`;
          return [{ path: `/residents/${to.residents!.indexOf(id)}`, message: why }];
        });
        if (errors.length > 0) return refuse(400, 'invalid_request', `${errors.length} of the residents named are not ${from}'s patients; nothing was moved`, 'residents', errors);
      }
      const moving = new Set(residents);
      const update = db.prepare('UPDATE residents SET doctor = ?, updated_at = ? WHERE id = ?');
      const homeOf = db.prepare('SELECT home_id FROM residents WHERE id = ?').pluck();
      for (const id of residents) {
        update.run(to.doctor, at, id);
        // Both doctors' open pages change their patient lists now, alerts or not (streamHub.ts `visible`).
        this.deps.events?.append('resident.doctor_changed', at, { homeId: homeOf.get(id) as string, residentId: id }, { residentId: id, from, to: to.doctor });
      }
      // A home-level alert (no resident named) is the home's: it follows when `from` keeps nobody there.
      const keepsHome = db.prepare('SELECT 1 FROM residents WHERE home_id = ? AND doctor = ?').pluck();
      const why = `家庭医生变更：${from} → ${to.doctor}（管理员 ${actor} 转移患者）`;
      const whyEn = `Family doctor changed from ${from} to ${to.doctor} by ${actor} (patients moved)`;
      const escalations: string[] = [];
      const warnings: string[] = [];
      for (const a of this.deps.engine.unresolved()) {
        const follows = a.residentId !== null ? moving.has(a.residentId) : !keepsHome.get(a.homeId, from);
        if (escalatedToDoctor(a, from) && (to.residents === undefined || follows)) {
          alertService.handOverEscalation(a, to.doctor, actor, Math.max(at, (a.escalatedAt ?? 0) + 1),
            `${why}，已转给 ${to.doctor} 处理 / ${whyEn}; handed over to ${to.doctor}`);
          escalations.push(a.id);
        } else if (isDoctorWarning(a) && a.residentId !== null && moving.has(a.residentId)) {
          this.deps.alerts.appendHistory(a.id, {
            at, actor, action: 'commented', fromState: a.state, toState: a.state, detail: { reason: 'patients.moved', from, to: to.doctor },
            note: `${why}，此预警转由 ${to.doctor} 查看 / ${whyEn}; ${to.doctor} reviews this warning now`,
          });
          this.deps.engine.store({ ...a, updatedAt: at }, 'commented', false);
          warnings.push(a.id);
        }
      }
      // No patient and no escalation: nothing was written (warnings move only with a patient).
      if (residents.length === 0 && escalations.length === 0) {
        return refuse(409, 'nothing_to_move', `${from} has no patients and no escalations to move`, 'username');
      }
      const value = { from, to: to.doctor, residents, escalations, warnings };
      return { value, sessions: [], audit: { to: to.doctor, residents, escalations, warnings } };
    });
  }

  /** A refusal if patients cannot move from `from` to `to`: `from` must exist; `to` must be another, enabled doctor. */
  private doctorsProblem(db: Db, from: string, to: string): ActionRefusal | undefined {
    const user = db.prepare('SELECT role, disabled FROM users WHERE username = ?');
    if (!user.get(from)) return refuse(404, 'not_found', `user ${from} does not exist`, 'username');
    if (to === from) return refuse(400, 'invalid_request', `the patients are ${from}'s already; name another doctor`, 'to');
    const target = user.get(to) as { role: string; disabled: number } | undefined;
    if (!target) return refuse(400, 'invalid_request', `no user ${to}`, 'to');
    if (target.role !== 'doctor') return refuse(400, 'invalid_request', `user ${to} has role ${target.role}, not doctor`, 'to');
    // Their patients' alerts would reach nobody: the very gap this action closes.
    if (target.disabled) return refuse(409, 'doctor_disabled', `doctor ${to} is disabled and cannot sign in; choose an enabled doctor`, 'to');
    return undefined;
  }

  /**
   * Runs one action as a group-commit job: `work` checks (returning a refusal
   * before writing anything) and writes; its audit entry commits with it. The
   * cache is reloaded in the job: a watchdog tick queued in the same turn runs
   * in the same transaction, after it, and judged by the old directory it
   * raised device_offline for a device just retired (an alert that can never
   * clear) or at the home a moved device had left. (Should the transaction roll
   * back, the directory reloads itself: DirectoryStore's resync.) The sessions
   * named are closed after the commit, so a client signing in again meets the
   * new directory.
   */
  private async act<T>(
    action: string, actor: string, subject: string | null,
    work: (db: Db, at: number) => ActionRefusal | { value: T; sessions: string[]; subject?: string; audit: object },
  ): Promise<ActionResult<T>> {
    const { writer, directory, users, log, closeSession } = this.deps;
    const outcome = await writer.run((db): ActionRefusal | { value: T; sessions: string[] } => {
      const done = work(db, this.deps.now());
      if ('ok' in done) return done;
      users.audit(actor, action, done.subject ?? subject, done.audit);
      directory.reloadCache();
      return done;
    });
    if ('ok' in outcome) return outcome;
    for (const username of outcome.sessions) closeSession(username);
    // Secrets never reach the log: the gateway's is only in the answer.
    const { password: _secret, ...logged } = outcome.value as Record<string, unknown>;
    log.info({ action, actor, ...logged }, 'directory changed by an admin action');
    return { ok: true, value: outcome.value };
  }

  private existingDevice(db: Db, deviceId: string): DeviceRow | ActionRefusal {
    const row = db.prepare('SELECT id, home_id, type, resident_id FROM devices WHERE id = ?').get(deviceId) as DeviceRow | undefined;
    if (row) return row;
    const retired = retirementOf(db, deviceId);
    if (retired) return refuse(409, 'retired', retirementText(retired), 'id');
    const gateway = db.prepare('SELECT home_id FROM gateways WHERE id = ?').pluck().get(deviceId) as string | undefined;
    if (gateway !== undefined) {
      return refuse(404, 'not_found', `${deviceId} is the gateway of home ${gateway}, not a device; replace it with POST /api/v1/homes/${gateway}/gateway`, 'id');
    }
    return refuse(404, 'not_found', `device ${deviceId} does not exist`, 'id');
  }

  /** A refusal if `homeId` is not a home to move to from `current`. */
  private targetHome(db: Db, homeId: string, current: string, sameHome: string): ActionRefusal | undefined {
    if (homeId === current) return refuse(409, 'already_there', sameHome, 'homeId');
    if (!db.prepare('SELECT 1 FROM homes WHERE id = ?').get(homeId)) return refuse(400, 'invalid_request', `home ${homeId} does not exist`, 'homeId');
    return undefined;
  }

  /** Why `id` cannot be a new MQTT identity: in use by a device or gateway (one namespace, SPEC §2), or retired. */
  private idTaken(db: Db, id: string): string | undefined {
    const gateway = db.prepare('SELECT home_id FROM gateways WHERE id = ?').pluck().get(id) as string | undefined;
    if (gateway !== undefined) return `${id} is already the gateway of home ${gateway}`;
    const device = db.prepare('SELECT home_id FROM devices WHERE id = ?').pluck().get(id) as string | undefined;
    if (device !== undefined) return `${id} is already a device of home ${device}; devices and gateways share one namespace, their MQTT username`;
    const credential = db.prepare('SELECT home_id FROM mqtt_credentials WHERE username = ?').pluck().get(id) as string | undefined;
    if (credential !== undefined) return `the MQTT credential ${id} belongs to home ${credential}`;
    const retired = retirementOf(db, id);
    return retired && retirementProblem(retired);
  }

  /** A device, its credential and its status row change home; its device-level alerts end. */
  private moveDeviceRows(db: Db, deviceId: string, from: string, to: string, residentId: string | null, at: number, actor: string): string[] {
    db.prepare('UPDATE devices SET home_id = ?, resident_id = ?, updated_at = ? WHERE id = ?').run(to, residentId, at, deviceId);
    db.prepare('UPDATE mqtt_credentials SET home_id = ? WHERE username = ?').run(to, deviceId);
    db.prepare('UPDATE client_status SET home_id = ? WHERE client_id = ?').run(to, deviceId);
    return this.endDeviceAlerts(deviceId, at, actor, 'device.moved',
      `设备已由管理员 ${actor} 从家庭 ${from} 迁至 ${to}，原家庭不再监测此设备 / Device moved from home ${from} to ${to} by ${actor}; home ${from} no longer monitors it`);
  }

  /**
   * Resolves the device's unresolved device-level alerts (device_offline,
   * battery_low: keyed by device, server/alerts/alertEngine.ts keyFor) with a
   * note. Marked "condition cleared" too: what they said of this home has
   * ended, so the time rules judge the device afresh where it now is.
   */
  private endDeviceAlerts(deviceId: string, at: number, actor: string, reason: string, note: string): string[] {
    const ended: string[] = [];
    for (const a of this.deps.engine.unresolved()) {
      if (!a.dedupeKey.startsWith(`device:${deviceId}:`)) continue;
      this.deps.alerts.appendHistory(a.id, { at, actor, action: 'resolved', fromState: a.state, toState: 'resolved', note, detail: { outcome: 'other', reason } });
      this.deps.engine.store({ ...a, state: 'resolved', outcome: 'other', resolvedAt: at, conditionClearedAt: a.conditionClearedAt ?? at, claimDeadline: null, updatedAt: at }, 'resolved', true);
      ended.push(a.id);
    }
    return ended;
  }

  /** A note on an unresolved alert (no change of state), shown to whoever handles it. */
  private note(a: Alert, at: number, actor: string, note: string): void {
    this.deps.alerts.appendHistory(a.id, { at, actor, action: 'commented', fromState: a.state, toState: a.state, note, detail: null });
    this.deps.engine.store({ ...a, updatedAt: at }, 'commented', false);
  }
}

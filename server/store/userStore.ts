/**
 * People who sign in to the web side, and their sessions. Passwords and session
 * tokens are stored only as hashes: scrypt for passwords, SHA-256 for the
 * 256-bit random tokens (fast is fine for those; they cannot be guessed).
 */
import { createHash, randomBytes } from 'node:crypto';
import { generateSecret, hashSecret, unusableHash, verifySecret } from '../auth/secrets.js';
import type { Alert } from '../alerts/alertStore.js';
import type { Db } from './sqliteDb.js';

/**
 * The roles of people who sign in (SPEC §1), plus `supervisor`: a call-center
 * shift lead, who does everything an operator does and also sees what is
 * overdue and who holds it (SPEC §5; README, "Roles").
 */
export const ROLE_NAMES = ['operator', 'supervisor', 'doctor', 'admin'] as const;
export type Role = (typeof ROLE_NAMES)[number];

/** The call center: operators and their supervisors, who act on alerts alike. */
export function isCallCenter(role: Role): boolean {
  return role === 'operator' || role === 'supervisor';
}

export interface User {
  username: string;
  role: Role;
  name: string | null;
}

/** A user as an admin manages them: disabled ones included. */
export interface UserRecord extends User {
  phone: string | null;
  webhookUrl: string | null;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

/** What an admin may change of a user; null clears name, phone or webhook URL. */
export interface UserChange {
  role?: Role;
  name?: string | null;
  phone?: string | null;
  webhookUrl?: string | null;
  disabled?: boolean;
}

/**
 * What a doctor still answers for: their patients, the alerts escalated to
 * them and not resolved, and their patients' unresolved warnings (SPEC §4:
 * the family doctor reviews those; nobody else is asked to).
 */
export interface DoctorWork {
  patients: number;
  escalations: number;
  warnings: number;
}

export type UserUpdate =
  | { ok: true; user: UserRecord; changed: Array<keyof UserChange>; sessionsEnded: number }
  /**
   * `last_admin`: it would leave no enabled admin. `doctor_in_use`: a doctor who
   * still has patients or open items would lose the role or be disabled
   * (`change` says which was asked); `residents` is their number of patients.
   */
  | { ok: false; problem: 'unknown' }
  | { ok: false; problem: 'last_admin' }
  | ({ ok: false; problem: 'doctor_in_use'; residents: number; change: 'role' | 'disabled' } & DoctorWork);

/** Thrown by {@link UserStore.setDisabled} for a doctor who still has work: nothing was changed. */
export class DoctorInUseError extends Error {
  constructor(readonly username: string, readonly work: DoctorWork) {
    super(doctorInUseText(username, work, 'disabled'));
    this.name = 'DoctorInUseError';
  }
}

/**
 * Why a doctor cannot be disabled or lose the role yet, with the counts, and
 * what to do first (moving their patients takes their open items along).
 */
export function doctorInUseText(username: string, work: DoctorWork, change: 'role' | 'disabled'): string {
  const items = work.escalations + work.warnings;
  // "is the family doctor of N resident(s)": the words of the refusal before open items counted too.
  return `${username} is the family doctor of ${work.patients} resident(s) and has ${items} open item(s) in their queue `
    + `(${work.escalations} escalation(s), ${work.warnings} warning(s)): move them to another doctor first `
    + `(POST /api/v1/doctors/${username}/patients/move), then ${change === 'disabled' ? 'disable the account' : 'change the role'}`;
}

const CHANGE_FIELDS = ['role', 'name', 'phone', 'webhookUrl', 'disabled'] as const satisfies ReadonlyArray<keyof UserChange>;

export interface Session {
  user: User;
  expiresAt: number;
}

export class UserStore {
  private readonly unusable = unusableHash('password');

  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
  }

  user(username: string): User | null {
    const r = this.db.prepare('SELECT username, role, name FROM users WHERE username = ? AND disabled = 0').get(username) as User | undefined;
    return r ?? null;
  }

  list(role?: Role): User[] {
    return this.db.prepare('SELECT username, role, name FROM users WHERE disabled = 0 AND (@role IS NULL OR role = @role) ORDER BY username')
      .all({ role: role ?? null }) as User[];
  }

  /** Every user, disabled ones too, for an admin. */
  records(): UserRecord[] {
    return (this.db.prepare(`${RECORD_SELECT} ORDER BY username`).all() as RecordRow[]).map(toRecord);
  }

  record(username: string): UserRecord | null {
    const row = this.db.prepare(`${RECORD_SELECT} WHERE username = ?`).get(username) as RecordRow | undefined;
    return row ? toRecord(row) : null;
  }

  async create(username: string, role: Role, name: string | null, password: string): Promise<void> {
    const hash = await hashSecret(password, 'password');
    const at = this.now();
    this.db.prepare('INSERT INTO users (username, role, name, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(username, role, name, hash, at, at);
  }

  /**
   * On the very first start: creates `admin` with the configured password, or
   * with a random one that the caller prints once. Returns the generated password.
   */
  async ensureAdmin(configured: string | undefined): Promise<{ generated: string | null } | null> {
    // An admin, not any user: users enrolled by the CLI before the first start are doctors and operators.
    if ((this.db.prepare("SELECT count(*) AS n FROM users WHERE role = 'admin'").get() as { n: number }).n > 0) return null;
    const password = configured ?? generateSecret();
    await this.create('admin', 'admin', '管理员 Administrator', password);
    this.audit('system', 'user.created', 'admin', { role: 'admin' });
    return { generated: configured ? null : password };
  }

  /** Checks a password; spends the same time whether or not the user exists. */
  async verify(username: string, password: string): Promise<User | null> {
    const row = this.db.prepare('SELECT username, role, name, password_hash AS hash FROM users WHERE username = ? AND disabled = 0')
      .get(username) as (User & { hash: string }) | undefined;
    const ok = await verifySecret(password, row?.hash ?? this.unusable);
    return row && ok ? { username: row.username, role: row.role, name: row.name } : null;
  }

  /** A new session; the token goes to the client, only its hash is kept. */
  createSession(username: string, ttlMs: number): { token: string; expiresAt: number } {
    const token = randomBytes(32).toString('base64url');
    const at = this.now();
    const expiresAt = at + ttlMs;
    this.db.prepare('INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(tokenHash(token), username, at, expiresAt);
    return { token, expiresAt };
  }

  session(token: string): Session | null {
    const r = this.db.prepare(
      `SELECT u.username, u.role, u.name, s.expires_at AS expiresAt FROM sessions s JOIN users u ON u.username = s.username
       WHERE s.token_hash = ? AND u.disabled = 0`,
    ).get(tokenHash(token)) as (User & { expiresAt: number }) | undefined;
    if (!r || r.expiresAt <= this.now()) return null;
    return { user: { username: r.username, role: r.role, name: r.name }, expiresAt: r.expiresAt };
  }

  deleteSession(token: string): void {
    this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash(token));
  }

  pruneSessions(): void {
    this.db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(this.now());
  }

  /**
   * A new random password for `username` (returned, to be shown once), its
   * sessions ended; false when there is no such user. The recovery when a
   * password is lost, the first admin's included.
   */
  async resetPassword(username: string, actor: string): Promise<string | null> {
    if (!this.db.prepare('SELECT 1 FROM users WHERE username = ?').get(username)) return null;
    const password = generateSecret();
    const hash = await hashSecret(password, 'password');
    this.db.transaction(() => {
      this.db.prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?').run(hash, this.now(), username);
      this.db.prepare('DELETE FROM sessions WHERE username = ?').run(username);
      this.audit(actor, 'user.password_reset', username, {});
    })();
    return password;
  }

  /**
   * Disables (or enables again) a user: a disabled one cannot sign in, and
   * their sessions end (a running hub closes their live streams within its
   * session sweep). The last enabled admin cannot be disabled. A doctor who
   * still has patients or open items cannot either: that throws
   * {@link DoctorInUseError} (thrown, not answered, so that no caller can
   * report it as done).
   */
  setDisabled(username: string, disabled: boolean, actor: string): 'done' | 'unknown' | 'last_admin' {
    const result = this.update(username, { disabled }, actor);
    if (!result.ok && result.problem === 'doctor_in_use') throw new DoctorInUseError(username, result);
    return result.ok ? 'done' : result.problem;
  }

  /** What a doctor still answers for (see {@link DoctorWork}); zeros for anyone else. */
  doctorWork(username: string): DoctorWork {
    return this.db.prepare(DOCTOR_WORK).get({ username }) as DoctorWork;
  }

  /** {@link doctorWork} of everyone named as a doctor or escalated to, by username, in three queries. */
  allDoctorWork(): Map<string, DoctorWork> {
    const work = new Map<string, DoctorWork>();
    const of = (username: string) => {
      let w = work.get(username);
      if (!w) work.set(username, (w = { patients: 0, escalations: 0, warnings: 0 }));
      return w;
    };
    for (const r of this.db.prepare('SELECT doctor AS username, count(*) AS n FROM residents WHERE doctor IS NOT NULL GROUP BY doctor').all() as Array<{ username: string; n: number }>) of(r.username).patients = r.n;
    for (const r of this.db.prepare(`SELECT escalated_to AS username, count(*) AS n FROM alerts WHERE ${ESCALATED_TO_DOCTOR} AND escalated_to IS NOT NULL GROUP BY escalated_to`).all() as Array<{ username: string; n: number }>) of(r.username).escalations = r.n;
    for (const r of this.db.prepare(`SELECT r.doctor AS username, count(*) AS n FROM alerts a JOIN residents r ON r.id = a.resident_id WHERE ${DOCTOR_WARNING} AND r.doctor IS NOT NULL GROUP BY r.doctor`).all() as Array<{ username: string; n: number }>) of(r.username).warnings = r.n;
    return work;
  }

  /**
   * Changes a user's role, name, phone, webhook URL or disabled flag, in one
   * transaction with its checks: the last enabled admin keeps that role and
   * stays enabled (someone must be able to undo mistakes), and a doctor who is
   * still a resident's family doctor keeps the role (escalations go to them).
   * A new role or a disabled account ends every session of the user at once:
   * the pages they have open are the old role's (the caller closes their live
   * streams; another process's change, the hub's session sweep does). Audited
   * by field names and roles, never values (a webhook URL may carry a token).
   */
  update(username: string, change: UserChange, actor: string): UserUpdate {
    return this.db.transaction((): UserUpdate => {
      const old = this.record(username);
      if (!old) return { ok: false, problem: 'unknown' };
      const next = {
        role: change.role ?? old.role,
        name: change.name === undefined ? old.name : change.name,
        phone: change.phone === undefined ? old.phone : change.phone,
        webhookUrl: change.webhookUrl === undefined ? old.webhookUrl : change.webhookUrl,
        disabled: change.disabled ?? old.disabled,
      };
      const changed = CHANGE_FIELDS.filter((f) => next[f] !== old[f]);
      if (changed.length === 0) return { ok: true, user: old, changed, sessionsEnded: 0 };
      const stopsBeingAdmin = old.role === 'admin' && !old.disabled && (next.role !== 'admin' || next.disabled);
      if (stopsBeingAdmin) {
        const others = (this.db.prepare("SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled = 0 AND username != ?").get(username) as { n: number }).n;
        if (others === 0) return { ok: false, problem: 'last_admin' };
      }
      // A doctor who stops being one, or is disabled, while patients or open items are still theirs would
      // leave warnings and escalations in a queue nobody can open (new escalations to them are refused,
      // but what is already theirs, and every warning their patients raise from then on, is not).
      const leaves = next.role !== 'doctor' ? 'role' : next.disabled && !old.disabled ? 'disabled' : null;
      if (old.role === 'doctor' && leaves) {
        const work = this.doctorWork(username);
        if (work.patients + work.escalations + work.warnings > 0) return { ok: false, problem: 'doctor_in_use', residents: work.patients, change: leaves, ...work };
      }
      this.db.prepare('UPDATE users SET role = ?, name = ?, phone = ?, webhook_url = ?, disabled = ?, updated_at = ? WHERE username = ?')
        .run(next.role, next.name, next.phone, next.webhookUrl, next.disabled ? 1 : 0, this.now(), username);
      const endsSessions = next.role !== old.role || (next.disabled && !old.disabled);
      const sessionsEnded = endsSessions ? this.db.prepare('DELETE FROM sessions WHERE username = ?').run(username).changes : 0;
      if (next.role !== old.role) this.audit(actor, 'user.role_changed', username, { from: old.role, to: next.role });
      if (next.disabled !== old.disabled) this.audit(actor, next.disabled ? 'user.disabled' : 'user.enabled', username, {});
      const details = changed.filter((f) => f !== 'role' && f !== 'disabled');
      if (details.length > 0) this.audit(actor, 'user.updated', username, { fields: details });
      return { ok: true, user: this.record(username)!, changed, sessionsEnded };
    }).immediate();
  }

  audit(actor: string, action: string, subject: string | null, detail: object): void {
    this.db.prepare('INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)')
      .run(this.now(), actor, action, subject, JSON.stringify(detail));
  }
}

/**
 * What sits in a doctor's queue, in one place for the counts (SQL), the move and the admin's
 * per-patient list (memory), so that they cannot disagree: an alert escalated to them, and their
 * patient's warning that is not escalated.
 */
/** An alert in a doctor's queue because it was escalated to them (joined with `escalated_to`). */
export const ESCALATED_TO_DOCTOR = "state = 'escalated' AND escalation_target = 'doctor'";
/** An alert in a doctor's queue because it is their patient's warning, not escalated (joined with the resident's doctor). */
const DOCTOR_WARNING = "a.severity = 'warning' AND a.state IN ('open', 'acknowledged')";

/** {@link ESCALATED_TO_DOCTOR} of `doctor`, for an alert in memory. */
export function escalatedToDoctor(a: Pick<Alert, 'state' | 'escalationTarget' | 'escalatedTo'>, doctor: string): boolean {
  return a.state === 'escalated' && a.escalationTarget === 'doctor' && a.escalatedTo === doctor;
}

/** {@link DOCTOR_WARNING}, for an alert in memory (its resident's doctor reviews it). */
export function isDoctorWarning(a: Pick<Alert, 'severity' | 'state'>): boolean {
  return a.severity === 'warning' && (a.state === 'open' || a.state === 'acknowledged');
}
const DOCTOR_WORK = `SELECT
  (SELECT count(*) FROM residents WHERE doctor = @username) AS patients,
  (SELECT count(*) FROM alerts WHERE escalated_to = @username AND ${ESCALATED_TO_DOCTOR}) AS escalations,
  (SELECT count(*) FROM alerts a JOIN residents r ON r.id = a.resident_id WHERE r.doctor = @username AND ${DOCTOR_WARNING}) AS warnings`;

const RECORD_SELECT = 'SELECT username, role, name, phone, webhook_url, disabled, created_at, updated_at FROM users';

interface RecordRow {
  username: string; role: Role; name: string | null; phone: string | null; webhook_url: string | null;
  disabled: number; created_at: number; updated_at: number;
}

function toRecord(r: RecordRow): UserRecord {
  return {
    username: r.username, role: r.role, name: r.name, phone: r.phone, webhookUrl: r.webhook_url,
    disabled: r.disabled !== 0, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * People who sign in to the web side, and their sessions. Passwords and session
 * tokens are stored only as hashes: scrypt for passwords, SHA-256 for the
 * 256-bit random tokens (fast is fine for those; they cannot be guessed).
 */
import { createHash, randomBytes } from 'node:crypto';
import { generateSecret, hashSecret, unusableHash, verifySecret } from '../auth/secrets.js';
import type { Db } from './sqliteDb.js';

export type Role = 'operator' | 'doctor' | 'admin';

export interface User {
  username: string;
  role: Role;
  name: string | null;
}

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
   * session sweep). The last enabled admin cannot be disabled.
   */
  setDisabled(username: string, disabled: boolean, actor: string): 'done' | 'unknown' | 'last_admin' {
    const row = this.db.prepare('SELECT role FROM users WHERE username = ?').get(username) as { role: Role } | undefined;
    if (!row) return 'unknown';
    if (disabled && row.role === 'admin') {
      const admins = (this.db.prepare("SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled = 0 AND username != ?").get(username) as { n: number }).n;
      if (admins === 0) return 'last_admin';
    }
    this.db.transaction(() => {
      this.db.prepare('UPDATE users SET disabled = ?, updated_at = ? WHERE username = ?').run(disabled ? 1 : 0, this.now(), username);
      if (disabled) this.db.prepare('DELETE FROM sessions WHERE username = ?').run(username);
      this.audit(actor, disabled ? 'user.disabled' : 'user.enabled', username, {});
    })();
    return 'done';
  }

  audit(actor: string, action: string, subject: string | null, detail: object): void {
    this.db.prepare('INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)')
      .run(this.now(), actor, action, subject, JSON.stringify(detail));
  }
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

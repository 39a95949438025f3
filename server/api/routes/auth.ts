/**
 * Sign-in and sign-out (SPEC §6): a session cookie for browsers, a bearer token for API clients.
 *
 * Only *failed* sign-ins are limited, two ways: per address (`loginPerMinute`
 * in a minute: one machine guessing), and per username ({@link USERNAME_MAX_FAILURES}
 * in {@link USERNAME_WINDOW_MS}, whatever the address: one account guessed from
 * many). Successful sign-ins are never counted, so a call centre's shift
 * change behind one NAT address is not refused. @fastify/rate-limit counts
 * every request before the handler runs, so it cannot do this.
 *
 * The username lock can be set off by anyone who knows a username (they lock
 * that person out for {@link USERNAME_LOCK_MS}); that is the price of stopping
 * distributed guessing, and each refusal is logged and counted
 * (`anxin_login_rate_limited_total`) so that an attack is visible.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { HubContext } from '../../hubContext.js';
import type { User } from '../../store/userStore.js';
import { ApiError } from '../errors.js';
import { ROLES } from '../policies.js';
import { ErrorBody, UserBody } from '../schemas.js';

export const SESSION_COOKIE = 'anxin_session';

const ADDRESS_WINDOW_MS = 60_000;
/** Failed sign-ins of one username (any address) in {@link USERNAME_WINDOW_MS} that lock it. */
export const USERNAME_MAX_FAILURES = 10;
export const USERNAME_WINDOW_MS = 15 * 60_000;
/** How long a username stays locked; a right password works again afterwards. */
export const USERNAME_LOCK_MS = 15 * 60_000;
/** Most addresses, and most usernames, remembered; beyond it the least recently used are forgotten (bounded memory under a spray of names). */
const MAX_KEYS = 100_000;

export function authRoutes(ctx: HubContext): FastifyPluginAsync {
  // A success does not clear an address's failures: one valid account must not let an address
  // guess others' passwords without limit. It does clear a username's.
  const byAddress = new FailureLimiter(ctx.config.loginPerMinute, ADDRESS_WINDOW_MS, ADDRESS_WINDOW_MS, ctx.now, false);
  const byUsername = new FailureLimiter(USERNAME_MAX_FAILURES, USERNAME_WINDOW_MS, USERNAME_LOCK_MS, ctx.now, true);

  return async (app) => {
    app.post('/api/v1/auth/login', {
      schema: {
        tags: ['auth'],
        summary: 'Sign in',
        description: 'Failed sign-ins are limited per address and per username: 429 with Retry-After.',
        security: [],
        body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 256 }) }),
        response: { 200: Type.Object({ token: Type.String(), expiresAt: Type.Integer(), user: UserBody }), 401: ErrorBody, 429: ErrorBody },
      },
    }, async (req, reply) => {
      const { username, password } = req.body as { username: string; password: string };
      // The client's address: a trusted proxy's X-Forwarded-For when ANXIN_TRUST_PROXY names it (http.ts),
      // else the peer's, so that behind a proxy one client's failures do not lock out everyone's.
      const address = req.ip;
      const waits = { username: byUsername.waitFor(username), address: byAddress.waitFor(address) };
      const scope = waits.username >= waits.address ? 'username' : 'address';
      if (waits[scope] > 0) {
        const retryAfter = Math.ceil(waits[scope] / 1000);
        ctx.metrics.loginRateLimited.inc({ scope });
        req.log.warn({ username, address, scope, retryAfter }, 'sign-in refused: too many failed sign-ins');
        reply.header('retry-after', String(retryAfter));
        throw new ApiError(429, 'rate_limited', `too many failed sign-ins; try again in ${retryAfter} s`);
      }
      byAddress.begin(address);
      byUsername.begin(username);
      let user: User | null | undefined; // undefined: the check itself failed (not the password)
      try {
        user = await ctx.users.verify(username, password);
      } finally {
        const outcome = user === undefined ? 'unknown' : user ? 'succeeded' : 'failed';
        byAddress.end(address, outcome);
        byUsername.end(username, outcome);
      }
      if (!user) {
        ctx.metrics.loginFailures.inc();
        req.log.warn({ username, address }, 'sign-in failed');
        throw new ApiError(401, 'invalid_credentials', 'wrong username or password');
      }
      const { token, expiresAt } = ctx.users.createSession(user.username, ctx.config.sessionHours * 3600_000);
      req.log.info({ username: user.username, role: user.role }, 'signed in');
      reply.setCookie(SESSION_COOKIE, token, { ...sessionCookie(req), expires: new Date(expiresAt) });
      return { token, expiresAt, user };
    });

    app.post('/api/v1/auth/logout', {
      schema: { tags: ['auth'], summary: 'Sign out (ends this session and closes its live streams)', response: { 200: Type.Object({ ok: Type.Boolean() }) } },
    }, async (req, reply) => {
      if (req.sessionToken) {
        ctx.users.deleteSession(req.sessionToken);
        ctx.stream.endSession(req.sessionToken, 'signed out');
      }
      // With the attributes it was set with: a browser keeps a Secure cookie unless told over https to drop it.
      reply.clearCookie(SESSION_COOKIE, sessionCookie(req));
      return { ok: true };
    });

    app.get('/api/v1/auth/me', {
      config: { roles: ROLES.signedIn },
      schema: { tags: ['auth'], summary: 'Who is signed in', response: { 200: Type.Object({ user: UserBody }) } },
    }, async (req) => ({ user: req.user! }));
  };
}

/**
 * The session cookie's attributes: script cannot read it, no other site's request carries it, and
 * once the request came over https (the hub's own, or a trusted proxy's `X-Forwarded-Proto`,
 * see `trustProxy` in http.ts) it never travels in clear.
 */
function sessionCookie(req: FastifyRequest): { path: string; httpOnly: true; sameSite: 'strict'; secure: boolean } {
  return { path: '/', httpOnly: true, sameSite: 'strict', secure: req.protocol === 'https' };
}

/**
 * Failed attempts per key in a sliding window: `max` failures within
 * `windowMs` lock the key for `lockMs`. An attempt counts from before its
 * (slow) password check until its outcome, so that many concurrent guesses
 * cannot all pass the check before the first failure is recorded. In memory:
 * a restart forgets.
 */
class FailureLimiter {
  /** By key, oldest activity first (a key is re-inserted when used), so the oldest are forgotten first. */
  private readonly keys = new Map<string, { failures: number[]; pending: number; lockedUntil: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly lockMs: number,
    private readonly now: () => number,
    private readonly successClears: boolean,
  ) {}

  /** Milliseconds until `key` may try again; 0 if it may now. */
  waitFor(key: string): number {
    const k = this.keys.get(key);
    if (!k) return 0;
    const now = this.now();
    if (k.lockedUntil > now) return k.lockedUntil - now;
    k.failures = k.failures.filter((t) => t > now - this.windowMs);
    // Only attempts still being checked can fill the window here (a full window of failures locks):
    // their outcome is a password check away.
    return k.failures.length + k.pending >= this.max ? 1000 : 0;
  }

  begin(key: string): void {
    const k = this.keys.get(key) ?? { failures: [], pending: 0, lockedUntil: 0 };
    k.pending += 1;
    this.keys.delete(key);
    this.keys.set(key, k);
    while (this.keys.size > MAX_KEYS) this.keys.delete(this.keys.keys().next().value!);
  }

  end(key: string, outcome: 'succeeded' | 'failed' | 'unknown'): void {
    const k = this.keys.get(key);
    if (!k) return; // forgotten meanwhile (MAX_KEYS)
    const now = this.now();
    k.pending = Math.max(0, k.pending - 1);
    if (outcome === 'failed') {
      k.failures = k.failures.filter((t) => t > now - this.windowMs);
      k.failures.push(now);
      if (k.failures.length >= this.max) {
        k.lockedUntil = now + this.lockMs;
        k.failures = [];
      }
    } else if (outcome === 'succeeded' && this.successClears) {
      k.failures = [];
    }
    if (k.pending === 0 && k.failures.length === 0 && k.lockedUntil <= now) this.keys.delete(key);
  }
}

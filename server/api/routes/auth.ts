/** Sign-in and sign-out (SPEC §6): a session cookie for browsers, a bearer token for API clients. */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { HubContext } from '../../hubContext.js';
import { ApiError } from '../errors.js';
import { ErrorBody, UserBody } from '../schemas.js';

export const SESSION_COOKIE = 'anxin_session';

export function authRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.post('/api/v1/auth/login', {
      config: { rateLimit: { max: ctx.config.loginPerMinute, timeWindow: '1 minute' } },
      schema: {
        tags: ['auth'],
        summary: 'Sign in',
        security: [],
        body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 256 }) }),
        response: { 200: Type.Object({ token: Type.String(), expiresAt: Type.Integer(), user: UserBody }), 401: ErrorBody, 429: ErrorBody },
      },
    }, async (req, reply) => {
      const { username, password } = req.body as { username: string; password: string };
      const user = await ctx.users.verify(username, password);
      if (!user) {
        ctx.metrics.loginFailures.inc();
        req.log.warn({ username, address: req.ip }, 'sign-in failed');
        throw new ApiError(401, 'invalid_credentials', 'wrong username or password');
      }
      const { token, expiresAt } = ctx.users.createSession(user.username, ctx.config.sessionHours * 3600_000);
      req.log.info({ username: user.username, role: user.role }, 'signed in');
      reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'strict', expires: new Date(expiresAt) });
      return { token, expiresAt, user };
    });

    app.post('/api/v1/auth/logout', {
      schema: { tags: ['auth'], summary: 'Sign out (ends this session)', response: { 200: Type.Object({ ok: Type.Boolean() }) } },
    }, async (req, reply) => {
      if (req.sessionToken) ctx.users.deleteSession(req.sessionToken);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return { ok: true };
    });

    app.get('/api/v1/auth/me', {
      config: { roles: ['operator', 'doctor', 'admin'] },
      schema: { tags: ['auth'], summary: 'Who is signed in', response: { 200: Type.Object({ user: UserBody }) } },
    }, async (req) => ({ user: req.user! }));
  };
}

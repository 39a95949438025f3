/** Alerts: list, detail, actions, the 120 hand-off, KPI, and the live stream (SPEC §5–6). */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { presentAlert, presentHistory, type Lang } from '../../alerts/alertPresenter.js';
import type { Alert } from '../../alerts/alertStore.js';
import { OUTCOMES, type Action } from '../../alerts/lifecycle.js';
import type { HubContext } from '../../hubContext.js';
import { SEVERITIES } from '../../rules/types.js';
import { isCallCenter, type User } from '../../store/userStore.js';
import { ApiError, notFound } from '../errors.js';
import { ROLES } from '../policies.js';
import { ErrorBody, IdParams } from '../schemas.js';
import { computeKpi } from '../../alerts/kpi.js';

const literals = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));
const AlertBody = Type.Object({}, { additionalProperties: true, description: 'an alert (SPEC §6): id, homeId, residentId, deviceId, rule, severity, state, title, createdAt, updatedAt, count, lastReading, incidentId, …' });
const Note = Type.String({ maxLength: 2000 });

export function langOf(req: FastifyRequest): Lang {
  const q = (req.query as { lang?: string } | undefined)?.lang;
  if (q === 'en' || q === 'zh-CN') return q;
  return req.headers['accept-language']?.toLowerCase().startsWith('en') ? 'en' : 'zh-CN';
}

export function alertRoutes(ctx: HubContext): FastifyPluginAsync {
  const { alertService, directory } = ctx;

  /** The call center sees every alert; a doctor the alerts of their patients and those escalated to them. */
  const canSee = (user: User, a: Alert): boolean => {
    if (isCallCenter(user.role)) return true;
    if (user.role !== 'doctor') return false;
    if (a.escalatedTo === user.username) return true;
    return a.residentId !== null && directory.residentInfo(a.residentId)?.doctor === user.username;
  };

  const visibleAlert = (req: FastifyRequest, id: string): Alert => {
    const alert = alertService.get(id);
    if (!alert || !canSee(req.user!, alert)) throw notFound('alert', id);
    return alert;
  };

  const act = async (req: FastifyRequest, action: Action) => {
    const { id } = req.params as { id: string };
    visibleAlert(req, id);
    const result = await alertService.act(id, action, { username: req.user!.username, role: req.user!.role });
    if (!result.ok) throw new ApiError(result.status, result.code, result.message);
    const lang = langOf(req);
    const handoff = action.kind === 'escalate' && action.target === 'emergency' ? ctx.handoff(result.alert, lang) : undefined;
    return { alert: presentAlert(result.alert, lang), ...(handoff && { handoff }) };
  };

  return async (app) => {
    app.get('/api/v1/alerts', {
      config: { roles: ROLES.clinical },
      schema: {
        tags: ['alerts'], summary: 'Alerts, newest first (a doctor: their patients and escalations)',
        querystring: Type.Object({
          state: Type.Optional(Type.String({ description: 'comma-separated: open,acknowledged,escalated,resolved' })),
          severity: Type.Optional(Type.String({ description: 'comma-separated: critical,urgent,warning,info' })),
          since: Type.Optional(Type.String({ description: 'updated at or after this RFC 3339 time' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 2000 })),
          lang: Type.Optional(literals(['zh-CN', 'en'])),
        }),
        response: {
          200: Type.Object({
            alerts: Type.Array(AlertBody),
            truncated: Type.Boolean({ description: 'more alerts matched than `limit`; unresolved ones are kept most severe first, then longest waiting (so the least severe and newest are cut); other lists newest first' }),
            total: Type.Integer({ minimum: 0, description: 'how many alerts matched in all, `limit` aside (a doctor: of those they may see); more than the list holds when `truncated`' }),
          }),
          400: ErrorBody,
        },
      },
    }, async (req) => {
      const q = req.query as { state?: string; severity?: string; since?: string; limit?: number };
      const states = list(q.state, ['open', 'acknowledged', 'escalated', 'resolved'], 'state');
      const severities = list(q.severity, SEVERITIES, 'severity');
      const since = q.since === undefined ? undefined : Date.parse(q.since);
      if (since !== undefined && !Number.isFinite(since)) throw new ApiError(400, 'invalid_request', 'since must be an RFC 3339 time', 'since');
      const user = req.user!;
      // A doctor's filter is in the query, not only after it: filtering the newest `limit` alerts
      // of everyone left a doctor with fewer (often none) of their own.
      const visibleTo = user.role === 'doctor'
        ? { residentIds: directory.residents({ doctor: user.username }).map((r) => r.id), escalatedTo: user.username }
        : undefined;
      const limit = q.limit ?? 500;
      const filter = { states: states as Alert['state'][], severities: severities as Alert['severity'][], since, visibleTo };
      // One more than asked tells whether the list was cut; only then is counting needed.
      const found = ctx.alerts.list({ ...filter, limit: limit + 1 });
      const truncated = found.length > limit;
      const lang = langOf(req);
      const alerts = found.slice(0, limit).filter((a) => canSee(user, a)).map((a) => presentAlert(alertService.get(a.id) ?? a, lang));
      // A console told "2,000" while 6,000 are unresolved would not know what it is missing.
      return { alerts, truncated, total: truncated ? ctx.alerts.count(filter) : alerts.length };
    });

    app.get('/api/v1/alerts/:id', {
      config: { roles: ROLES.clinical },
      schema: { tags: ['alerts'], summary: 'An alert with its readings, rule explanation and full history', params: IdParams, response: { 200: Type.Object({}, { additionalProperties: true }), 404: ErrorBody } },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const alert = visibleAlert(req, id);
      return {
        alert: presentAlert(alert, langOf(req)),
        explanation: alert.explanation,
        history: ctx.alerts.history(id).map(presentHistory),
        readings: ctx.alerts.readings(id).map((r) => ({ ...r, ts: new Date(r.ts).toISOString() })),
      };
    });

    const ActionAnswer = { 200: Type.Object({ alert: AlertBody, handoff: Type.Optional(Type.Object({}, { additionalProperties: true })) }), 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };

    app.post('/api/v1/alerts/:id/ack', {
      config: { roles: ROLES.clinical },
      schema: { tags: ['alerts'], summary: 'Acknowledge (claim); a doctor acknowledges an escalation to them. The body is optional', params: IdParams, body: Type.Object({ note: Type.Optional(Note) }), response: ActionAnswer },
      // Fastify validates an absent body against the body schema too ("body must be object"),
      // and Type.Optional means nothing at the top level: a bare `POST …/ack` was refused with 400.
      preValidation: async (req) => {
        req.body ??= {};
      },
    }, async (req) => act(req, { kind: 'ack', note: (req.body as { note?: string }).note }));

    app.post('/api/v1/alerts/:id/escalate', {
      config: { roles: ROLES.clinical },
      schema: { tags: ['alerts'], summary: "Escalate to the resident's family doctor or to emergency rescue (120); 120 answers the hand-off summary", params: IdParams, body: Type.Object({ target: literals(['doctor', 'emergency']), note: Type.Optional(Note) }), response: ActionAnswer },
    }, async (req) => {
      const b = req.body as { target: 'doctor' | 'emergency'; note?: string };
      return act(req, { kind: 'escalate', target: b.target, note: b.note });
    });

    app.post('/api/v1/alerts/:id/resolve', {
      config: { roles: ROLES.clinical },
      schema: { tags: ['alerts'], summary: 'Resolve with an outcome (a note is required to resolve an unacknowledged alert)', params: IdParams, body: Type.Object({ outcome: literals(OUTCOMES), note: Type.Optional(Note) }), response: ActionAnswer },
    }, async (req) => {
      const b = req.body as { outcome: (typeof OUTCOMES)[number]; note?: string };
      return act(req, { kind: 'resolve', outcome: b.outcome, note: b.note });
    });

    app.post('/api/v1/alerts/:id/comment', {
      config: { roles: ROLES.clinical },
      schema: { tags: ['alerts'], summary: 'Add a note to the history without changing state', params: IdParams, body: Type.Object({ note: Note }), response: ActionAnswer },
    }, async (req) => act(req, { kind: 'comment', note: (req.body as { note: string }).note }));

    app.get('/api/v1/alerts/:id/handoff', {
      config: { roles: ROLES.clinical },
      schema: { tags: ['alerts'], summary: 'The hand-off summary to read to the 120 dispatcher (zh-CN and en)', params: IdParams, response: { 200: Type.Object({}, { additionalProperties: true }), 404: ErrorBody } },
    }, async (req) => ctx.handoff(visibleAlert(req, (req.params as { id: string }).id), langOf(req)));

    app.get('/api/v1/kpi', {
      config: { roles: ROLES.clinical },
      schema: {
        tags: ['alerts'], summary: 'Response KPIs per severity (telecare standard: 97.5 % claimed ≤ 60 s, 99 % ≤ 180 s)',
        querystring: Type.Object({ from: Type.Optional(Type.String()), to: Type.Optional(Type.String()) }),
        response: { 200: Type.Object({}, { additionalProperties: true }), 400: ErrorBody },
      },
    }, async (req) => {
      const q = req.query as { from?: string; to?: string };
      const now = ctx.now();
      const from = q.from ? Date.parse(q.from) : now - 24 * 3600_000;
      const to = q.to ? Date.parse(q.to) : now;
      if (!Number.isFinite(from)) throw new ApiError(400, 'invalid_request', 'from must be an RFC 3339 time', 'from');
      if (!Number.isFinite(to)) throw new ApiError(400, 'invalid_request', 'to must be an RFC 3339 time', 'to');
      return computeKpi(ctx.db, from, to, now);
    });

    app.get('/api/v1/stream', {
      websocket: true,
      config: { roles: ROLES.directory },
      schema: { tags: ['alerts'], summary: 'Live events (WebSocket): {seq,type,data}; send {"resume": lastSeq} to replay what was missed' },
    }, (socket, req) => ctx.stream.accept(socket, req.sessionToken!));
  };
}

function list(value: string | undefined, allowed: readonly string[], field: string): string[] | undefined {
  if (value === undefined || value === '') return undefined;
  const items = value.split(',').map((s) => s.trim());
  const bad = items.find((s) => !allowed.includes(s));
  if (bad) throw new ApiError(400, 'invalid_request', `${field} "${bad}" is not one of ${allowed.join(', ')}`, field);
  return items;
}

/**
 * Read routes that exist for the dashboards' convenience (aggregates a screen
 * needs in one request). Registered after the core API; same roles and policies.
 *
 * - `GET /api/v1/dashboard/config`: the hub's time zone, claim deadlines and the
 *   configured thresholds of every rule (chart bands, the targets editor).
 * - `GET /api/v1/dashboard/residents/:id`: a resident's latest reading of each
 *   type, their effective thresholds (targets over the configuration), missed
 *   scheduled measurements, open alerts, and their doctor's display name.
 * - `GET /api/v1/dashboard/patients`: the same summary for every resident the
 *   user may see (a doctor: their own patients).
 * - `GET /api/v1/dashboard/homes`: homes with gateway status, residents and
 *   devices with status, in one request (the admin overview).
 *
 * Latest readings come from the SQLite reading journal, which is always kept
 * (see `server/store/types.ts`), whatever time-series store is configured.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { READING_TYPES, type ReadingType } from '../../../devices/readingSchema.js';
import type { HubContext } from '../../hubContext.js';
import { SEVERITY_NAMES, THRESHOLD_NAMES, severitiesFor, targetedNames, thresholdsFor } from '../../rules/ruleConfig.js';
import { missedDays } from '../../rules/timeRules.js';
import { RULE_IDS, SEVERITIES, type Targets } from '../../rules/types.js';
import type { ResidentRecord } from '../../store/directoryStore.js';
import type { User } from '../../store/userStore.js';
import { forbidden, notFound } from '../errors.js';
import { canSeeResident, ROLES } from '../policies.js';
import { presentDevice, presentResident, presentStatus } from '../presenters.js';
import { ClientStatusBody, DeviceBody, ErrorBody, HomeBody, IdParams, ResidentBody } from '../schemas.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const NumberMap = Type.Record(Type.String(), Type.Number());
const AnyObject = Type.Object({}, { additionalProperties: true });

const LatestReading = Type.Object({
  deviceId: Type.String(),
  id: Type.String(),
  ts: Type.String({ format: 'date-time' }),
  values: AnyObject,
});

const ResidentSummary = Type.Object({
  resident: Type.Object({ ...ResidentBody.properties, schedule: Type.Array(Type.Object({ type: Type.String(), time: Type.String() })) }),
  doctor: Nullable(Type.Object({ username: Type.String(), name: Nullable(Type.String()) })),
  latest: Type.Record(Type.String(), Nullable(LatestReading), { description: 'reading type → its newest reading by measurement time' }),
  thresholds: Type.Record(Type.String(), NumberMap, { description: 'rule → threshold → effective value (the resident’s target, else the configured one)' }),
  targeted: Type.Record(Type.String(), Type.Array(Type.String()), { description: 'rule → thresholds the resident’s targets override' }),
  missed: Type.Array(Type.Object({
    type: Type.String(), time: Type.String(), missedDays: Type.Integer(), lastReadingAt: Nullable(Type.String({ format: 'date-time' })),
  }), { description: 'each scheduled daily measurement and how many days in a row it was missed' }),
  openAlerts: Type.Record(Type.String(), Type.Integer(), { description: 'severity → unresolved alerts' }),
});

const RuleSettings = Type.Object({
  thresholds: NumberMap,
  severities: Type.Record(Type.String(), Type.String()),
  sources: Type.Record(Type.String(), Type.String()),
});

export function dashboardRoutes(ctx: HubContext): FastifyPluginAsync {
  const latestStmt = ctx.db.prepare('SELECT device_id AS deviceId, reading_id AS id, ts, vals FROM readings WHERE resident_id = ? AND type = ? ORDER BY ts DESC LIMIT 1');

  const latestOf = (residentId: string, type: ReadingType) => {
    const row = latestStmt.get(residentId, type) as { deviceId: string; id: string; ts: number; vals: string } | undefined;
    return row ? { deviceId: row.deviceId, id: row.id, ts: row.ts, values: JSON.parse(row.vals) as Record<string, unknown> } : null;
  };

  const summarize = (r: ResidentRecord) => {
    const now = ctx.now();
    const latest = Object.fromEntries(READING_TYPES.map((type) => [type, latestOf(r.id, type)]));
    const targets = r.targets as Targets;
    const thresholds = Object.fromEntries(RULE_IDS.filter((id) => THRESHOLD_NAMES[id].length > 0).map((id) => [id, thresholdsFor(ctx.ruleConfig, id, targets)]));
    const targeted = Object.fromEntries(RULE_IDS.map((id) => [id, targetedNames(id, targets)] as const).filter(([, names]) => names.length > 0));
    const since = ctx.directory.residentInfo(r.id)?.createdAt ?? null;
    const missed = r.schedule.filter((s) => (READING_TYPES as readonly string[]).includes(s.type)).map((s) => {
      const lastReadingAt = latestOf(r.id, s.type as ReadingType)?.ts ?? null;
      const days = missedDays({ schedule: { type: s.type as ReadingType, time: s.time }, lastReadingAt, now, tz: ctx.config.tz, since }, ctx.ruleConfig);
      return { type: s.type, time: s.time, missedDays: days, lastReadingAt: lastReadingAt === null ? null : new Date(lastReadingAt).toISOString() };
    });
    const openAlerts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<string, number>;
    for (const a of ctx.engine.unresolved()) if (a.residentId === r.id) openAlerts[a.severity]! += 1;
    const doctor = r.doctor ? { username: r.doctor, name: ctx.users.user(r.doctor)?.name ?? null } : null;
    return {
      resident: { ...presentResident(r, now), schedule: r.schedule },
      doctor,
      latest: Object.fromEntries(Object.entries(latest).map(([type, v]) => [type, v && { ...v, ts: new Date(v.ts).toISOString() }])),
      thresholds,
      targeted,
      missed,
      openAlerts,
    };
  };

  const visibleResidents = (user: User): ResidentRecord[] =>
    ctx.directory.residents(user.role === 'doctor' ? { doctor: user.username } : {});

  return async (app) => {
    app.get('/api/v1/dashboard/config', {
      config: { roles: ROLES.directory },
      schema: {
        tags: ['dashboard'], summary: 'Time zone, claim deadlines and the configured threshold of every rule',
        response: {
          200: Type.Object({
            tz: Type.String(),
            claimDeadlineSeconds: NumberMap,
            incidentWindowMinutes: Type.Number(),
            rules: Type.Record(Type.String(), RuleSettings),
          }),
        },
      },
    }, async () => ({
      tz: ctx.config.tz,
      claimDeadlineSeconds: ctx.ruleConfig.claimDeadlineSeconds as Record<string, number>,
      incidentWindowMinutes: ctx.ruleConfig.incidentWindowMinutes,
      rules: Object.fromEntries(RULE_IDS.map((id) => [id, {
        thresholds: thresholdsFor(ctx.ruleConfig, id),
        severities: SEVERITY_NAMES[id].length ? severitiesFor(ctx.ruleConfig, id) : {},
        sources: ctx.ruleConfig.rules[id].source,
      }])),
    }));

    app.get('/api/v1/dashboard/residents/:id', {
      config: { roles: ROLES.clinical },
      schema: {
        tags: ['dashboard'], summary: 'A resident with latest vitals, effective thresholds, missed measurements and open alerts',
        params: IdParams, response: { 200: ResidentSummary, 403: ErrorBody, 404: ErrorBody },
      },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const resident = ctx.directory.resident(id);
      if (!resident) throw notFound('resident', id);
      if (!canSeeResident(req.user!, resident)) throw forbidden('this resident is not your patient');
      return summarize(resident);
    });

    app.get('/api/v1/dashboard/patients', {
      config: { roles: ROLES.clinical },
      schema: {
        tags: ['dashboard'], summary: 'The summary of every resident the user may see (a doctor: their own patients)',
        response: { 200: Type.Object({ patients: Type.Array(ResidentSummary) }) },
      },
    }, async (req) => ({ patients: visibleResidents(req.user!).map(summarize) }));

    app.get('/api/v1/dashboard/homes', {
      config: { roles: ROLES.directory },
      schema: {
        tags: ['dashboard'], summary: 'Homes with gateway status, residents and devices with status',
        response: {
          200: Type.Object({
            homes: Type.Array(Type.Object({
              ...HomeBody.properties,
              gatewayStatus: Nullable(ClientStatusBody),
              residents: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), doctor: Nullable(Type.String()) })),
              devices: Type.Array(DeviceBody),
            })),
          }),
        },
      },
    }, async (req) => {
      const user = req.user!;
      const residents = ctx.directory.residents().filter((r) => user.role !== 'doctor' || canSeeResident(user, r));
      const visibleHomes = user.role === 'doctor' ? new Set(residents.map((r) => r.homeId)) : null;
      const devices = ctx.directory.devicesWithStatus();
      return {
        homes: ctx.directory.homes().filter((h) => !visibleHomes || visibleHomes.has(h.id)).map((h) => ({
          ...h,
          gatewayStatus: h.gatewayId ? presentStatus(ctx.directory.status(h.gatewayId)) : null,
          residents: residents.filter((r) => r.homeId === h.id).map((r) => ({ id: r.id, name: r.name, doctor: r.doctor })),
          devices: devices.filter((d) => d.homeId === h.id).map(presentDevice),
        })),
      };
    });
  };
}

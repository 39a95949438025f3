/** A resident's readings over a time range (SPEC §6), for operators and their doctor. */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { READING_TYPES, type ReadingType } from '../../../devices/readingSchema.js';
import { MAX_AGE_MS } from '../../../devices/validateReading.js';
import type { HubContext } from '../../hubContext.js';
import type { ReadingWindow } from '../../store/types.js';
import { ApiError, forbidden, notFound } from '../errors.js';
import { canSeeResident, ROLES } from '../policies.js';
import { presentReading } from '../presenters.js';
import { ErrorBody, IdParams, ReadingBody } from '../schemas.js';

const Time = Type.String({ description: 'RFC 3339 time or epoch milliseconds' });

const Stats = Type.Object({ min: Type.Number(), mean: Type.Number(), max: Type.Number() });
const WindowBody = Type.Object({
  start: Type.String({ format: 'date-time', description: 'start of the window (windows are aligned to multiples of `every` since the epoch, UTC)' }),
  count: Type.Integer({ description: 'readings measured in the window' }),
  values: Type.Record(Type.String(), Stats, { description: 'numeric value → min, mean, max over the window' }),
});

/** `every=auto` takes the shortest of these that gives at most AUTO_WINDOWS windows (90 days → 1 h). */
const AUTO_STEPS = ['1m', '5m', '15m', '1h', '6h', '1d'] as const;
const AUTO_WINDOWS = 2400;
const MAX_WINDOWS = 10_000;
const UNIT_MS = { m: 60_000, h: 3600_000, d: 86_400_000 } as const;

/** Readings in one answer unless `limit` says otherwise. */
const DEFAULT_LIMIT = 10_000;

export function readingRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/api/v1/residents/:id/readings', {
      config: { roles: ROLES.clinical },
      schema: {
        tags: ['readings'],
        summary: "A resident's readings by measurement time, oldest first; with `every`, min/mean/max per window instead",
        params: IdParams,
        querystring: Type.Object({
          type: Type.Optional(Type.Union(READING_TYPES.map((t) => Type.Literal(t)))),
          from: Type.Optional(Time),
          to: Type.Optional(Time),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          every: Type.Optional(Type.String({
            pattern: '^(auto|[1-9][0-9]{0,4}[mhd])$',
            description: 'aggregate into windows of this length (`15m`, `1h`, `1d`; `auto` picks one for the range, 90 days → 1h); needs `type`; `from` defaults to 365 days before `to`, `to` to now',
          })),
        }),
        response: {
          200: Type.Object({
            readings: Type.Optional(Type.Array(ReadingBody, { description: 'without `every`' })),
            truncated: Type.Optional(Type.Boolean({
              description: 'without `every`: more readings are in the range than `limit` (default 10,000); these are the oldest; ask again from the last one\'s `ts`',
            })),
            every: Type.Optional(Type.String({ description: 'with `every`: the window length used' })),
            windows: Type.Optional(Type.Array(WindowBody, { description: 'with `every`: windows that have readings, oldest first' })),
          }),
          400: ErrorBody, 403: ErrorBody, 404: ErrorBody,
        },
      },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const q = req.query as { type?: ReadingType; from?: string; to?: string; limit?: number; every?: string };
      const resident = ctx.directory.resident(id);
      if (!resident) throw notFound('resident', id);
      if (!canSeeResident(req.user!, resident)) throw forbidden('this resident is not your patient');
      const from = parseTime(q.from, 'from');
      const to = parseTime(q.to, 'to');
      if (from !== undefined && to !== undefined && from > to) throw new ApiError(400, 'invalid_request', 'from is after to', 'from');
      if (q.every === undefined) {
        const limit = q.limit ?? DEFAULT_LIMIT;
        // One more than asked tells whether the answer was cut.
        const readings = await ctx.readingQueries.query({ residentId: id, type: q.type, from, to, limit: limit + 1 });
        return { readings: readings.slice(0, limit).map(presentReading), truncated: readings.length > limit };
      }
      if (!q.type) throw new ApiError(400, 'invalid_request', 'every needs a type: windows summarize one kind of reading', 'type');
      const end = to ?? ctx.now();
      const start = from ?? end - MAX_AGE_MS;
      if (start > end) throw new ApiError(400, 'invalid_request', 'from is after now; give to as well', 'from');
      const every = q.every === 'auto' ? autoEvery(end - start) : q.every;
      const everyMs = durationMs(every);
      if ((end - start) / everyMs > MAX_WINDOWS) {
        throw new ApiError(400, 'invalid_request', `every ${every} makes more than ${MAX_WINDOWS} windows over this range; use a longer one or auto`, 'every');
      }
      const windows = await ctx.readingQueries.aggregate({ residentId: id, type: q.type, from: start, to: end, everyMs });
      return { every, windows: windows.map(presentWindow) };
    });
  };
}

function presentWindow(w: ReadingWindow) {
  return { start: new Date(w.start).toISOString(), count: w.count, values: w.values };
}

function durationMs(every: string): number {
  return Number(every.slice(0, -1)) * UNIT_MS[every.at(-1) as keyof typeof UNIT_MS];
}

function autoEvery(rangeMs: number): string {
  return AUTO_STEPS.find((s) => rangeMs / durationMs(s) <= AUTO_WINDOWS) ?? AUTO_STEPS[AUTO_STEPS.length - 1]!;
}

function parseTime(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new ApiError(400, 'invalid_request', `${field} must be an RFC 3339 time or epoch milliseconds`, field);
  return ms;
}

/** A resident's readings over a time range (SPEC §6), for operators and their doctor. */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { READING_TYPES, type ReadingType } from '../../../devices/readingSchema.js';
import type { HubContext } from '../../hubContext.js';
import { ApiError, forbidden, notFound } from '../errors.js';
import { canSeeResident, ROLES } from '../policies.js';
import { presentReading } from '../presenters.js';
import { ErrorBody, IdParams, ReadingBody } from '../schemas.js';

const Time = Type.String({ description: 'RFC 3339 time or epoch milliseconds' });

export function readingRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/api/v1/residents/:id/readings', {
      config: { roles: ROLES.clinical },
      schema: {
        tags: ['readings'], summary: "A resident's readings by measurement time, oldest first",
        params: IdParams,
        querystring: Type.Object({
          type: Type.Optional(Type.Union(READING_TYPES.map((t) => Type.Literal(t)))),
          from: Type.Optional(Time),
          to: Type.Optional(Time),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
        }),
        response: { 200: Type.Object({ readings: Type.Array(ReadingBody) }), 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const q = req.query as { type?: ReadingType; from?: string; to?: string; limit?: number };
      const resident = ctx.directory.resident(id);
      if (!resident) throw notFound('resident', id);
      if (!canSeeResident(req.user!, resident)) throw forbidden('this resident is not your patient');
      const from = parseTime(q.from, 'from');
      const to = parseTime(q.to, 'to');
      if (from !== undefined && to !== undefined && from > to) throw new ApiError(400, 'invalid_request', 'from is after to', 'from');
      const readings = await ctx.readings.query({ residentId: id, type: q.type, from, to, limit: q.limit });
      return { readings: readings.map(presentReading) };
    });
  };
}

function parseTime(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new ApiError(400, 'invalid_request', `${field} must be an RFC 3339 time or epoch milliseconds`, field);
  return ms;
}

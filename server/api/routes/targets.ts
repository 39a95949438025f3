/**
 * A resident's own thresholds, set by their doctor (SPEC §4, §6): they override
 * the default rules per rule and threshold. Every change is audited with who,
 * when, and the old and new values.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { HubContext } from '../../hubContext.js';
import { validateTargets } from '../../rules/ruleConfig.js';
import { ApiError, forbidden, notFound } from '../errors.js';
import { canSeeResident, ROLES } from '../policies.js';
import { ErrorBody, IdParams } from '../schemas.js';

const TargetsBody = Type.Record(Type.String(), Type.Record(Type.String(), Type.Number()), {
  description: 'rule → threshold → value, e.g. {"bp_high": {"systolic": 170}}; an empty object restores the defaults',
});

export function targetRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.put('/api/v1/residents/:id/targets', {
      config: { roles: ['doctor', 'admin'] },
      schema: {
        tags: ['residents'], summary: "Replace a resident's targets (their doctor, or an admin); audited",
        params: IdParams, body: TargetsBody,
        response: { 200: Type.Object({ targets: TargetsBody }), 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const user = req.user!;
      const resident = ctx.directory.resident(id);
      if (!resident) throw notFound('resident', id);
      if (user.role === 'doctor' && !canSeeResident(user, resident)) throw forbidden('only the resident’s own doctor may change their targets');
      const problems = validateTargets(req.body);
      if (problems.length > 0) {
        throw new ApiError(400, 'invalid_targets', `${problems[0]!.path} ${problems[0]!.message}`, problems[0]!.path,
          problems.map((p) => ({ path: p.path, message: p.message })));
      }
      const next = req.body as Record<string, Record<string, number>>;
      const at = ctx.now();
      // Through the group commit: serialized with the rules engine, which reads targets per reading.
      await ctx.writer.run((db) => {
        db.prepare('UPDATE residents SET targets = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(next), at, id);
        db.prepare('INSERT INTO target_changes (resident_id, at, actor, old, new) VALUES (?, ?, ?, ?, ?)')
          .run(id, at, user.username, JSON.stringify(resident.targets), JSON.stringify(next));
        ctx.directory.reloadCache();
      });
      req.log.info({ residentId: id, actor: user.username }, 'targets changed');
      return { targets: next };
    });

    app.get('/api/v1/residents/:id/targets/history', {
      config: { roles: ROLES.signedIn },
      schema: { tags: ['residents'], summary: 'Audit trail of target changes, newest first', params: IdParams, response: { 200: Type.Object({ changes: Type.Array(Type.Object({}, { additionalProperties: true })) }), 403: ErrorBody, 404: ErrorBody } },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const resident = ctx.directory.resident(id);
      if (!resident) throw notFound('resident', id);
      if (!canSeeResident(req.user!, resident)) throw forbidden('this resident is not your patient');
      const rows = ctx.db.prepare('SELECT at, actor, old, new FROM target_changes WHERE resident_id = ? ORDER BY seq DESC').all(id) as Array<{ at: number; actor: string; old: string; new: string }>;
      return { changes: rows.map((r) => ({ at: new Date(r.at).toISOString(), actor: r.actor, old: JSON.parse(r.old), new: JSON.parse(r.new) })) };
    });
  };
}

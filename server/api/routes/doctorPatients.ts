/**
 * A doctor's patients, for an admin (an extension of SPEC §6; README, "Moving
 * a doctor's patients"): who has how many patients and open items, and moving
 * all or some of one doctor's patients to another when a doctor leaves, goes
 * on leave, or districts are redrawn. What the move does to alerts is
 * server/import/directoryActions.ts (moveDoctorPatients); here, the routes,
 * schemas and answers. A doctor with patients or open items cannot be
 * disabled (server/store/userStore.ts): this is what to do first.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { ID_PATTERN } from '../../../devices/topics.js';
import type { HubContext } from '../../hubContext.js';
import { USERNAME_PATTERN } from '../../import/importSchema.js';
import { escalatedToDoctor, isDoctorWarning, ROLE_NAMES, type DoctorWork } from '../../store/userStore.js';
import { notFound } from '../errors.js';
import { directoryActionsFor, settleAction } from './adminActions.js';
import { ROLES } from '../policies.js';
import { ErrorBody } from '../schemas.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Ids = Type.Array(Type.String());

/** Most residents one request may name; more are moved by moving all. */
const MAX_NAMED = 5000;

const Work = {
  patients: Type.Integer({ minimum: 0 }),
  escalations: Type.Integer({ minimum: 0, description: 'alerts escalated to this doctor, not resolved' }),
  warnings: Type.Integer({ minimum: 0, description: "their patients' unresolved warnings (not escalated): the family doctor reviews these" }),
  openItems: Type.Integer({ minimum: 0, description: 'escalations + warnings: what sits in their queue' }),
};

const DoctorBody = Type.Object({
  username: Type.String(),
  name: Nullable(Type.String()),
  role: Type.Union(ROLE_NAMES.map((r) => Type.Literal(r)), { description: 'doctor, or a former doctor something is still escalated to' }),
  disabled: Type.Boolean(),
  ...Work,
});

const PatientBody = Type.Object({
  id: Type.String(),
  name: Type.String(),
  homeId: Type.String(),
  escalations: Work.escalations,
  warnings: Work.warnings,
});

const UsernameParams = Type.Object({ username: Type.String({ pattern: USERNAME_PATTERN }) });

const MoveBody = Type.Object({
  to: Type.String({ pattern: USERNAME_PATTERN, description: 'the doctor who takes the patients: an enabled user with role doctor' }),
  residents: Type.Optional(Type.Array(Type.String({ pattern: ID_PATTERN }), {
    minItems: 1, maxItems: MAX_NAMED, description: 'only these patients (each must be this doctor\'s); absent: all of them, and everything escalated to this doctor',
  })),
}, { additionalProperties: false });

const MovedBody = Type.Object({
  from: Type.String(),
  to: Type.String(),
  residents: Ids,
  escalations: Type.Array(Type.String(), { description: 'alerts escalated to `from`, now escalated to `to`, who is notified as of any escalation' }),
  warnings: Type.Array(Type.String(), { description: "the moved patients' warnings, now in `to`'s queue (a note in each alert's history)" }),
  /** What `from` still answers for afterwards (zeros after moving all: the account may be disabled). */
  remaining: Type.Object(Work),
});

const withTotal = (w: DoctorWork) => ({ ...w, openItems: w.escalations + w.warnings });

export function doctorPatientRoutes(ctx: HubContext): FastifyPluginAsync {
  const actions = directoryActionsFor(ctx);

  return async (app) => {
    const admin = { roles: ROLES.admin };

    app.get('/api/v1/doctors', {
      config: admin,
      schema: {
        tags: ['users'], summary: 'Every doctor (disabled ones too) with their number of patients and open items',
        description: 'Also lists a user of another role who still has something escalated to them (a role changed before this was checked). '
          + 'A disabled doctor with patients or open items is a queue nobody can open: move their patients.',
        response: { 200: Type.Object({ doctors: Type.Array(DoctorBody) }) },
      },
    }, async () => {
      const work = ctx.users.allDoctorWork();
      const none: DoctorWork = { patients: 0, escalations: 0, warnings: 0 };
      const doctors = ctx.users.records()
        .filter((u) => u.role === 'doctor' || work.has(u.username))
        .map((u) => ({ username: u.username, name: u.name, role: u.role, disabled: u.disabled, ...withTotal(work.get(u.username) ?? none) }));
      return { doctors };
    });

    app.get('/api/v1/doctors/:username/patients', {
      config: admin,
      schema: {
        tags: ['users'], summary: "A doctor's patients with their open items, to choose whom to move (no vitals)",
        params: UsernameParams,
        response: { 200: Type.Object({ patients: Type.Array(PatientBody) }), 404: ErrorBody },
      },
    }, async (req) => {
      const { username } = req.params as { username: string };
      if (!ctx.users.record(username)) throw notFound('user', username);
      const patients = ctx.directory.residents({ doctor: username });
      const counts = new Map(patients.map((r) => [r.id, { escalations: 0, warnings: 0 }]));
      for (const a of ctx.engine.unresolved()) {
        const c = a.residentId === null ? undefined : counts.get(a.residentId);
        if (!c) continue;
        if (escalatedToDoctor(a, username)) c.escalations += 1;
        else if (isDoctorWarning(a)) c.warnings += 1;
      }
      return { patients: patients.map((r) => ({ id: r.id, name: r.name, homeId: r.homeId, ...counts.get(r.id)! })) };
    });

    app.post('/api/v1/doctors/:username/patients/move', {
      config: admin,
      schema: {
        tags: ['users'], summary: "Move all or some of a doctor's patients to another doctor; what is in the first doctor's queue follows",
        description: 'Alerts escalated to the first doctor are escalated to the new one, who is notified (webhook, SMS) as of any escalation; '
          + "the patients' warnings go to the new doctor's queue. Each alert's history says so; the move is audited (`patients.moved`). "
          + '`to` must be an enabled doctor (400 / 409 `doctor_disabled`); named residents must be this doctor\'s patients (400, each named in `errors`). '
          + 'Moving all also takes every escalation to the first doctor, so their account can then be disabled.',
        params: UsernameParams,
        body: MoveBody,
        response: { 200: MovedBody, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    }, async (req) => {
      const { username } = req.params as { username: string };
      const body = req.body as { to: string; residents?: string[] };
      const moved = settleAction(req, await actions.moveDoctorPatients(username, { doctor: body.to, residents: body.residents }, req.user!.username));
      return { ...moved, remaining: withTotal(ctx.users.doctorWork(username)) };
    });
  };
}

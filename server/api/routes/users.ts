/**
 * People who sign in, managed by an admin (an extension of SPEC §6; README,
 * "Web API"): the list, and `PUT /api/v1/users/{username}` to change a role,
 * name, phone or webhook URL, or to disable and enable an account. Creating
 * users stays with the import, which refuses to change a role and points here.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { HubContext } from '../../hubContext.js';
import { ImportUser } from '../../import/importSchema.js';
import { webhookUrlProblem } from '../../notify/webhookNotifier.js';
import { doctorInUseText, ROLE_NAMES, type UserChange, type UserRecord } from '../../store/userStore.js';
import { ApiError, notFound } from '../errors.js';
import { ROLES } from '../policies.js';
import { ErrorBody } from '../schemas.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const UserRecordBody = Type.Object({
  username: Type.String(),
  role: Type.Union(ROLE_NAMES.map((r) => Type.Literal(r))),
  name: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  webhookUrl: Nullable(Type.String()),
  disabled: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

/** The fields of a change, with the import's own rules for each; null clears name, phone or webhook URL. */
const UserChangeBody = Type.Object({
  role: Type.Optional(ImportUser.properties.role),
  name: Type.Optional(Nullable(ImportUser.properties.name)),
  phone: Type.Optional(Nullable(ImportUser.properties.phone)),
  webhookUrl: Type.Optional(Nullable(ImportUser.properties.webhookUrl)),
  disabled: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

const CHANGE_FIELDS = Object.keys(UserChangeBody.properties);

const present = (u: UserRecord) => ({ ...u, createdAt: new Date(u.createdAt).toISOString(), updatedAt: new Date(u.updatedAt).toISOString() });

export function userRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    const admin = { roles: ROLES.admin };

    app.get('/api/v1/users', {
      config: admin,
      schema: { tags: ['users'], summary: 'Everyone who has an account, disabled ones included (marked)', response: { 200: Type.Object({ users: Type.Array(UserRecordBody) }) } },
    }, async () => ({ users: ctx.users.records().map(present) }));

    app.put('/api/v1/users/:username', {
      config: admin,
      schema: {
        tags: ['users'],
        summary: "Change a user's role, name, phone or webhook URL, or disable/enable them; a new role or disabling ends their sessions at once",
        description: 'The last enabled admin cannot lose the role or be disabled (409 last_admin); a doctor who still has patients or open items '
          + '(alerts escalated to them, their patients\' warnings) keeps the role and stays enabled until they are moved (409 doctor_in_use; '
          + 'POST /api/v1/doctors/{username}/patients/move). Audited.',
        params: Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) }),
        body: UserChangeBody,
        response: { 200: Type.Object({ user: UserRecordBody, changed: Type.Array(Type.String()), sessionsEnded: Type.Integer() }), 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
      preValidation: async (req) => checkChangeFields(req),
    }, async (req) => {
      const { username } = req.params as { username: string };
      const change = req.body as UserChange;
      const hookProblem = typeof change.webhookUrl === 'string' ? webhookUrlProblem(change.webhookUrl) : null;
      if (hookProblem) throw new ApiError(400, 'invalid_request', hookProblem, 'webhookUrl');
      const actor = req.user!.username;
      const result = ctx.users.update(username, change, actor);
      if (!result.ok) {
        if (result.problem === 'unknown') throw notFound('user', username);
        if (result.problem === 'last_admin') {
          const field = change.role !== undefined && change.role !== 'admin' ? 'role' : 'disabled';
          throw new ApiError(409, 'last_admin', `${username} is the last enabled admin: make another user admin first`, field);
        }
        throw new ApiError(409, 'doctor_in_use', doctorInUseText(username, result, result.change), result.change);
      }
      const { changed, sessionsEnded, user } = result;
      // The sessions are gone already; their live streams close now, not at the next sweep.
      if (changed.includes('role')) ctx.stream.endUser(username, 'role changed');
      else if (changed.includes('disabled') && user.disabled) ctx.stream.endUser(username, 'user disabled');
      if (changed.length > 0) req.log.info({ username, by: actor, changed, role: user.role, disabled: user.disabled, sessionsEnded }, 'user changed');
      return { user: present(user), changed, sessionsEnded };
    });
  };
}

/**
 * Names the field that is wrong before the schema's generic answer can: an
 * unknown one (`roles`, `enabled`) or an empty change.
 */
async function checkChangeFields(req: FastifyRequest): Promise<void> {
  const body = req.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return; // the schema says "body must be object"
  const keys = Object.keys(body);
  const unknown = keys.find((k) => !CHANGE_FIELDS.includes(k));
  if (unknown !== undefined) throw new ApiError(400, 'invalid_request', `${unknown} is not a field of a user; send ${CHANGE_FIELDS.join(', ')}`, unknown);
  if (keys.length === 0) throw new ApiError(400, 'invalid_request', `send at least one of ${CHANGE_FIELDS.join(', ')}`, 'body');
}

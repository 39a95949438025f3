/**
 * The admin actions the import points to (server/import/importChecks.ts):
 * move a resident, move a device, replace a home's gateway, retire a device.
 * What each does and keeps is server/import/directoryActions.ts; here, their
 * routes, schemas and answers. A refusal is a 4xx naming the field, logged.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ID_PATTERN } from '../../../devices/topics.js';
import type { HubContext } from '../../hubContext.js';
import { DirectoryActions, type ActionResult, type BoundDevices } from '../../import/directoryActions.js';
import { ApiError } from '../errors.js';
import { ROLES } from '../policies.js';
import { presentDevice, presentResident } from '../presenters.js';
import { CredentialBody, DeviceBody, ErrorBody, IdParams, ResidentBody } from '../schemas.js';

const Id = Type.String({ pattern: ID_PATTERN });
const Ids = Type.Array(Type.String());
const Refusals = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };

/** The directory's admin actions (server/import/directoryActions.ts) with what they need of the hub. */
export function directoryActionsFor(ctx: HubContext): DirectoryActions {
  return new DirectoryActions({
    writer: ctx.writer, directory: ctx.directory, engine: ctx.engine, alerts: ctx.alerts, users: ctx.users, alertService: ctx.alertService, events: ctx.eventLog,
    closeSession: (username) => ctx.broker.forget(username), log: ctx.log.child({ component: 'directory' }), now: ctx.now,
  });
}

/** An admin action's value, or its refusal as the HTTP error it is. */
export function settleAction<T>(req: FastifyRequest, result: ActionResult<T>): T {
  if (result.ok) return result.value;
  req.log.info({ actor: req.user!.username, url: req.url, error: result.code, field: result.field }, `admin action refused: ${result.message}`);
  throw new ApiError(result.status, result.code, result.message, result.field, result.errors);
}

export function adminActionRoutes(ctx: HubContext): FastifyPluginAsync {
  const actions = directoryActionsFor(ctx);

  return async (app) => {
    const admin = { roles: ROLES.admin };

    app.post('/api/v1/residents/:id/move', {
      config: admin,
      schema: {
        tags: ['provisioning'], summary: 'Move a resident to another home (targets, schedule, doctor and readings stay theirs)',
        description: 'Refused (409) while the resident has unresolved alerts, when the home has 4 residents, and, if devices are bound to the resident, '
          + 'until `devices` says whether they move along (their sessions are closed) or stay in the old home unbound.',
        params: IdParams,
        body: Type.Object({ homeId: Id, devices: Type.Optional(Type.Union([Type.Literal('move'), Type.Literal('unbind')])) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ resident: ResidentBody, fromHomeId: Type.String(), movedDevices: Ids, unboundDevices: Ids, resolvedAlerts: Ids }),
          ...Refusals,
        },
      },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const body = req.body as { homeId: string; devices?: BoundDevices };
      const moved = settleAction(req, await actions.moveResident(id, body, req.user!.username));
      return { ...moved, resident: presentResident(ctx.directory.resident(id)!, ctx.now()) };
    });

    app.post('/api/v1/devices/:id/move', {
      config: admin,
      schema: {
        tags: ['provisioning'], summary: 'Move a device to another home, optionally bound to a resident there; its session is closed',
        description: 'Its readings stay with the home they were measured in. Its open device-level alerts (offline, battery) are resolved with a note.',
        params: IdParams,
        body: Type.Object({ homeId: Id, resident: Type.Optional(Id) }, { additionalProperties: false }),
        response: { 200: Type.Object({ device: DeviceBody, fromHomeId: Type.String(), resolvedAlerts: Ids }), ...Refusals },
      },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const body = req.body as { homeId: string; resident?: string };
      const moved = settleAction(req, await actions.moveDevice(id, body, req.user!.username));
      const device = ctx.directory.device(id)!;
      return { device: presentDevice({ ...device, status: ctx.directory.status(id) }), fromHomeId: moved.fromHomeId, resolvedAlerts: moved.resolvedAlerts };
    });

    app.post('/api/v1/homes/:id/gateway', {
      config: admin,
      schema: {
        tags: ['provisioning'], summary: "Replace a home's gateway: the new one's secret is shown once; the old one is revoked at once",
        description: 'The old gateway is signed out and can no longer sign in; its id is never issued again.',
        params: IdParams,
        body: Type.Object({ id: Id }, { additionalProperties: false }),
        response: {
          200: Type.Object({ homeId: Type.String(), gatewayId: Type.String(), previousGatewayId: Type.String(), credential: CredentialBody }),
          ...Refusals,
        },
      },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const r = settleAction(req, await actions.replaceGateway(id, (req.body as { id: string }).id, req.user!.username));
      return { homeId: r.homeId, gatewayId: r.gatewayId, previousGatewayId: r.previousGatewayId, credential: { username: r.gatewayId, password: r.password, kind: 'gateway' as const } };
    });

    app.delete('/api/v1/devices/:id', {
      config: admin,
      schema: {
        tags: ['provisioning'], summary: 'Retire a device: credential revoked, session closed, no longer monitored; readings and alert history kept',
        description: 'Its open device-level alerts are resolved with a note. A retired id is never issued again, by this API or the import.',
        params: IdParams,
        response: { 200: Type.Object({ id: Type.String(), homeId: Type.String(), retiredAt: Type.String(), resolvedAlerts: Ids }), ...Refusals },
      },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const r = settleAction(req, await actions.retireDevice(id, req.user!.username));
      return { id: r.deviceId, homeId: r.homeId, retiredAt: new Date(r.retiredAt).toISOString(), resolvedAlerts: r.resolvedAlerts };
    });
  };
}

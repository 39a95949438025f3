/** Read routes for homes, residents and devices with their status (SPEC §6). */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { HubContext } from '../../hubContext.js';
import type { User } from '../../store/userStore.js';
import { notFound, forbidden } from '../errors.js';
import { canSeeResident, ROLES } from '../policies.js';
import { presentDevice, presentResident, presentStatus } from '../presenters.js';
import { DeviceBody, ErrorBody, HomeBody, HomeDetailBody, IdParams, ResidentBody, ResidentDetailBody } from '../schemas.js';

export function directoryRoutes(ctx: HubContext): FastifyPluginAsync {
  const { directory } = ctx;

  /** Homes a user may see: all for operators and admins, a doctor's patients' homes for a doctor. */
  const visibleHomeIds = (user: User): Set<string> | null =>
    user.role === 'doctor' ? new Set(directory.residents({ doctor: user.username }).map((r) => r.homeId)) : null;

  return async (app) => {
    app.get('/api/v1/homes', {
      config: { roles: ROLES.directory },
      schema: { tags: ['directory'], summary: 'Homes', response: { 200: Type.Object({ homes: Type.Array(HomeBody) }) } },
    }, async (req) => {
      const visible = visibleHomeIds(req.user!);
      return { homes: directory.homes().filter((h) => !visible || visible.has(h.id)) };
    });

    app.get('/api/v1/homes/:id', {
      config: { roles: ROLES.directory },
      schema: { tags: ['directory'], summary: 'A home with its residents, devices and gateway status', params: IdParams, response: { 200: HomeDetailBody, 404: ErrorBody } },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const home = directory.home(id);
      const visible = visibleHomeIds(req.user!);
      if (!home || (visible && !visible.has(id))) throw notFound('home', id);
      const now = ctx.now();
      return {
        ...home,
        gatewayStatus: home.gatewayId ? presentStatus(directory.status(home.gatewayId)) : null,
        residents: directory.residents({ homeId: id }).filter((r) => canSeeResident(req.user!, r)).map((r) => presentResident(r, now)),
        devices: directory.devicesWithStatus({ homeId: id }).map(presentDevice),
      };
    });

    app.get('/api/v1/residents', {
      config: { roles: ROLES.directory },
      schema: {
        tags: ['directory'], summary: 'Residents (a doctor sees their own patients)',
        querystring: Type.Object({ homeId: Type.Optional(Type.String()) }),
        response: { 200: Type.Object({ residents: Type.Array(ResidentBody) }) },
      },
    }, async (req) => {
      const { homeId } = req.query as { homeId?: string };
      const user = req.user!;
      const now = ctx.now();
      const residents = directory.residents({ homeId, doctor: user.role === 'doctor' ? user.username : undefined });
      return { residents: residents.map((r) => presentResident(r, now)) };
    });

    app.get('/api/v1/residents/:id', {
      config: { roles: ROLES.directory },
      schema: { tags: ['directory'], summary: 'A resident with home, access notes and devices', params: IdParams, response: { 200: ResidentDetailBody, 403: ErrorBody, 404: ErrorBody } },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const resident = directory.resident(id);
      if (!resident) throw notFound('resident', id);
      if (!canSeeResident(req.user!, resident)) throw forbidden('this resident is not your patient');
      const home = directory.home(resident.homeId)!;
      const devices = directory.devicesWithStatus({ homeId: resident.homeId })
        .filter((d) => d.residentId === id || d.residentId === null);
      return { ...presentResident(resident, ctx.now()), home, devices: devices.map(presentDevice) };
    });

    app.get('/api/v1/devices', {
      config: { roles: ROLES.directory },
      schema: {
        tags: ['directory'], summary: 'Devices with their online state',
        querystring: Type.Object({ homeId: Type.Optional(Type.String()) }),
        response: { 200: Type.Object({ devices: Type.Array(DeviceBody) }) },
      },
    }, async (req) => {
      const { homeId } = req.query as { homeId?: string };
      const visible = visibleHomeIds(req.user!);
      const devices = directory.devicesWithStatus({ homeId }).filter((d) => !visible || visible.has(d.homeId));
      return { devices: devices.map(presentDevice) };
    });

    app.get('/api/v1/devices/:id', {
      config: { roles: ROLES.directory },
      schema: { tags: ['directory'], summary: 'A device with its online state', params: IdParams, response: { 200: DeviceBody, 404: ErrorBody } },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const device = directory.device(id);
      const visible = visibleHomeIds(req.user!);
      if (!device || (visible && !visible.has(device.homeId))) throw notFound('device', id);
      return presentDevice({ ...device, status: directory.status(id) });
    });
  };
}

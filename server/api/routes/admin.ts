/**
 * Provisioning (admin): bulk import, single homes/residents/devices through the
 * same importer, device secret rotation, and the store of refused payloads.
 * People's accounts are managed in users.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { generateSecret, hashSecret } from '../../auth/secrets.js';
import type { HubContext } from '../../hubContext.js';
import { ImportError, importDocument } from '../../import/importer.js';
import { ApiError, notFound } from '../errors.js';
import { ROLES } from '../policies.js';
import { CredentialBody, ErrorBody, IdParams, RefusalBody } from '../schemas.js';

const ImportAnswer = Type.Object({
  credentials: Type.Array(CredentialBody),
  users: Type.Array(Type.Object({ username: Type.String(), password: Type.String() })),
  created: Type.Record(Type.String(), Type.Integer()),
  updated: Type.Record(Type.String(), Type.Integer()),
  unchanged: Type.Record(Type.String(), Type.Integer()),
});

const AnyObject = Type.Object({}, { additionalProperties: true });

export function adminRoutes(ctx: HubContext): FastifyPluginAsync {
  /** Every provisioning write goes through the importer: one set of checks, atomic, audited. */
  const runImport = async (doc: unknown, actor: string) => {
    try {
      const result = await importDocument(ctx.db, doc, { actor, now: ctx.now() });
      ctx.directory.reloadCache();
      return result;
    } catch (err) {
      if (err instanceof ImportError) {
        const first = err.errors[0];
        throw new ApiError(400, 'invalid_document', `${err.errors.length} problem(s); nothing was written`, first?.path, err.errors);
      }
      throw err;
    }
  };

  /** Rebuilds the import form of an existing home, so single-entity writes keep the rest as it is. */
  const homeShell = (homeId: string) => {
    const home = ctx.directory.home(homeId);
    if (!home) throw new ApiError(400, 'invalid_request', `home ${homeId} does not exist`, 'homeId');
    return {
      id: home.id,
      address: home.address,
      ...(home.phone !== null && { phone: home.phone }),
      ...(home.access !== null && { access: home.access }),
    };
  };

  return async (app) => {
    const admin = { roles: ROLES.admin };

    app.post('/api/v1/import', {
      config: admin,
      schema: {
        tags: ['provisioning'], summary: 'Bulk onboarding: upsert homes, residents, devices and users atomically (SPEC §6)',
        description: 'All or nothing; every error is named by its JSON path. Re-importing the same document changes nothing. New secrets are shown once.',
        body: AnyObject, response: { 200: ImportAnswer, 400: ErrorBody },
      },
    }, async (req) => runImport(req.body, req.user!.username));

    for (const method of ['POST', 'PUT'] as const) {
      app.route({
        method, url: method === 'POST' ? '/api/v1/homes' : '/api/v1/homes/:id', config: admin,
        schema: { tags: ['provisioning'], summary: `${method === 'POST' ? 'Create' : 'Update'} a home (same form as one home of the import)`, body: AnyObject, response: { 200: ImportAnswer, 400: ErrorBody } },
        handler: async (req) => {
          const body = req.body as { id?: string };
          const id = (req.params as { id?: string }).id;
          if (id !== undefined && body.id !== undefined && body.id !== id) throw new ApiError(400, 'invalid_request', 'id in the body differs from the URL', 'id');
          return runImport({ homes: [{ ...body, ...(id !== undefined && { id }) }] }, req.user!.username);
        },
      });
      app.route({
        method, url: method === 'POST' ? '/api/v1/residents' : '/api/v1/residents/:id', config: admin,
        schema: { tags: ['provisioning'], summary: `${method === 'POST' ? 'Create' : 'Update'} a resident: the import form plus homeId`, body: AnyObject, response: { 200: ImportAnswer, 400: ErrorBody } },
        handler: async (req) => {
          const { homeId, ...resident } = req.body as { homeId?: string; id?: string };
          const id = (req.params as { id?: string }).id;
          const home = homeId ?? (id ? ctx.directory.resident(id)?.homeId : undefined);
          if (!home) throw new ApiError(400, 'invalid_request', 'homeId is required', 'homeId');
          return runImport({ homes: [{ ...homeShell(home), residents: [{ ...resident, ...(id !== undefined && { id }) }] }] }, req.user!.username);
        },
      });
      app.route({
        method, url: method === 'POST' ? '/api/v1/devices' : '/api/v1/devices/:id', config: admin,
        schema: { tags: ['provisioning'], summary: `${method === 'POST' ? 'Enrol' : 'Update'} a device: the import form plus homeId; a new device's secret is shown once`, body: AnyObject, response: { 200: ImportAnswer, 400: ErrorBody } },
        handler: async (req) => {
          const { homeId, ...device } = req.body as { homeId?: string; id?: string };
          const id = (req.params as { id?: string }).id;
          const home = homeId ?? (id ? ctx.directory.device(id)?.homeId : undefined);
          if (!home) throw new ApiError(400, 'invalid_request', 'homeId is required', 'homeId');
          return runImport({ homes: [{ ...homeShell(home), devices: [{ ...device, ...(id !== undefined && { id }) }] }] }, req.user!.username);
        },
      });
    }

    app.post('/api/v1/devices/:id/secret', {
      config: admin,
      schema: {
        tags: ['provisioning'], summary: 'Issue a new secret for a device or gateway (the old one stops working; the session is closed)',
        params: IdParams, response: { 200: CredentialBody, 404: ErrorBody },
      },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const credential = ctx.directory.credential(id);
      if (!credential) throw notFound('device or gateway', id);
      const password = generateSecret();
      const hash = await hashSecret(password, 'device');
      const at = ctx.now();
      ctx.db.transaction(() => {
        ctx.db.prepare('UPDATE mqtt_credentials SET secret_hash = ?, rotated_at = ? WHERE username = ?').run(hash, at, id);
        ctx.users.audit(req.user!.username, 'secret.rotated', id, { kind: credential.kind });
      })();
      ctx.broker.forget(id);
      req.log.info({ username: id, kind: credential.kind }, 'device secret rotated');
      return { username: id, password, kind: credential.kind };
    });

    app.get('/api/v1/refusals', {
      config: admin,
      schema: {
        tags: ['provisioning'], summary: 'Refused payloads, newest first (bounded store)',
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          before: Type.Optional(Type.Integer({ minimum: 1, description: 'seq to page from' })),
          code: Type.Optional(Type.String()),
        }),
        response: { 200: Type.Object({ refusals: Type.Array(RefusalBody) }) },
      },
    }, async (req) => {
      const q = req.query as { limit?: number; before?: number; code?: string };
      const refusals = ctx.refusals.list({ limit: q.limit, beforeSeq: q.before, code: q.code });
      return { refusals: refusals.map((r) => ({ ...r, at: new Date(r.at).toISOString() })) };
    });
  };
}

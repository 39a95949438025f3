/** Liveness, readiness and Prometheus metrics (SPEC §6). */
import type { FastifyPluginAsync } from 'fastify';
import type { HubContext } from '../../hubContext.js';

export function healthRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: { tags: ['health'], summary: 'The process is alive' }, logLevel: 'warn' }, async () => ({ status: 'ok' }));

    app.get('/readyz', { schema: { tags: ['health'], summary: 'Accepting devices and users' }, logLevel: 'warn' }, async (_req, reply) => {
      let readable = true;
      try {
        ctx.db.prepare('SELECT 1').get();
      } catch {
        readable = false;
      }
      // Readable is not enough: with the disk full every write fails, no reading is acknowledged and
      // no alert can be raised, while SELECT 1 still answers.
      const writes = ctx.storeHealth.state();
      const store = readable && !writes.failing;
      const ready = ctx.ready() && store;
      // InfluxDB is reported, not required: while it is down readings wait in the journal and the hub accepts them.
      const forwarder = ctx.timeSeries?.forwarder;
      return reply.status(ready ? 200 : 503).send({
        status: ready ? 'ready' : 'not_ready',
        checks: {
          store: !readable ? 'failed' : writes.failing ? 'failing' : 'ok', broker: ctx.ready() ? 'ok' : 'not_ready', pendingWrites: ctx.writer.pending,
          ...(writes.failing && { storeFailing: { since: new Date(writes.since).toISOString(), error: writes.error } }),
          ...(forwarder && readable && { influx: { state: forwarder.state(), lag: forwarder.lag() } }),
        },
      });
    });

    app.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics' }, logLevel: 'warn' }, async (_req, reply) => {
      reply.header('content-type', ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    });
  };
}

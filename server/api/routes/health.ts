/** Liveness, readiness and Prometheus metrics (SPEC §6). */
import type { FastifyPluginAsync } from 'fastify';
import type { HubContext } from '../../hubContext.js';

export function healthRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: { tags: ['health'], summary: 'The process is alive' }, logLevel: 'warn' }, async () => ({ status: 'ok' }));

    app.get('/readyz', { schema: { tags: ['health'], summary: 'Accepting devices and users' }, logLevel: 'warn' }, async (_req, reply) => {
      let store = true;
      try {
        ctx.db.prepare('SELECT 1').get();
      } catch {
        store = false;
      }
      const ready = ctx.ready() && store;
      // InfluxDB is reported, not required: while it is down readings wait in the journal and the hub accepts them.
      const forwarder = ctx.timeSeries?.forwarder;
      return reply.status(ready ? 200 : 503).send({
        status: ready ? 'ready' : 'not_ready',
        checks: {
          store: store ? 'ok' : 'failed', broker: ctx.ready() ? 'ok' : 'not_ready', pendingWrites: ctx.writer.pending,
          ...(forwarder && store && { influx: { state: forwarder.state(), lag: forwarder.lag() } }),
        },
      });
    });

    app.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics' }, logLevel: 'warn' }, async (_req, reply) => {
      reply.header('content-type', ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    });
  };
}

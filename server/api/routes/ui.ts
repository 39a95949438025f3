/**
 * Serves the dashboards (built by `npm run build:ui` into `dashboards/dist`) at
 * `/`. Client-side pages (`/doctor`, `/admin`, …) all answer the same
 * index.html; assets are content-hashed and cached for a year.
 */
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const UI_DIST = fileURLToPath(new URL('../../../dashboards/dist', import.meta.url));
const PAGES = ['/', '/operator', '/doctor', '/admin', '/login'];

export function uiRoutes(): FastifyPluginAsync {
  return async (app) => {
    if (!existsSync(`${UI_DIST}/index.html`)) {
      for (const url of PAGES) {
        app.get(url, { schema: { hide: true } }, async (_req, reply) =>
          reply.status(503).send({ error: 'ui_not_built', message: 'the dashboards are not built: run `npm run build:ui` (npm start does it)' }));
      }
      return;
    }
    await app.register(fastifyStatic, {
      root: UI_DIST,
      prefix: '/',
      index: false,
      wildcard: false,
      setHeaders: (res, path) => {
        res.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
    for (const url of PAGES) {
      app.get(url, { schema: { hide: true } }, async (_req, reply) => reply.header('cache-control', 'no-cache').sendFile('index.html'));
    }
  };
}

/**
 * Runs once before all tests: builds the dashboards (the browser tests load
 * them from the real hub), so `npm test` on a clean clone needs no extra step.
 */
import { build } from 'vite';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export default async function setup(): Promise<void> {
  const config = fileURLToPath(new URL('../dashboards/vite.config.ts', import.meta.url));
  if (!existsSync(config)) return; // no dashboards yet
  await build({ configFile: config, logLevel: 'warn' });
}

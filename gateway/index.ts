/**
 * `npm run gateway -- --config FILE`: runs the bridge of one home (SPEC §8).
 * `ANXIN_GATEWAY_*` variables override the file (e.g. the password).
 * SIGTERM/SIGINT stop cleanly; a kill -9 loses nothing that was answered "ok".
 */
import { parseArgs } from 'node:util';
import { GatewayConfigError, loadGatewayConfig } from './config.js';
import { buildGateway } from './gateway.js';

async function main(): Promise<void> {
  let file: string | undefined;
  try {
    file = parseArgs({ options: { config: { type: 'string', short: 'c' } } }).values.config;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
  }
  if (!file) {
    process.stderr.write('usage: npm run gateway -- --config FILE\n');
    process.exit(2);
  }
  let config;
  try {
    config = loadGatewayConfig(file);
  } catch (err) {
    if (err instanceof GatewayConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const gateway = buildGateway(config, { stdin: process.stdin });
  await gateway.start();
  const log = gateway.ctx.log;
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) process.exit(1);
    log.info({ signal }, 'shutting down');
    gateway.stop().then(() => process.exit(0), (err) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`anxin gateway failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

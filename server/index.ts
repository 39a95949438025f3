/**
 * `npm start`: runs the whole hub on its embedded store. Configuration comes
 * from the environment (SPEC §7); SIGTERM/SIGINT shut down without losing data.
 */
import { ConfigError, loadConfig } from './config.js';
import { buildHub } from './hub.js';

async function main(): Promise<void> {
  // Whatever reads stdout may go away (a log shipper restarting): the banner's write must not end the hub.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const hub = await buildHub(config);
  if (hub.generatedAdminPassword) {
    // Printed once, to the terminal only (never to the log): it is not stored anywhere in clear.
    process.stdout.write(
      `\n  安心 Anxin: first start. Sign in as "admin" with password: ${hub.generatedAdminPassword}\n` +
      `  (shown only now; set ANXIN_ADMIN_PASSWORD before the first start to choose it)\n\n`,
    );
  }
  process.stdout.write(`  Anxin hub: http://${config.host}:${hub.httpPort}/  mqtt://${config.host}:${hub.mqttPort}  data: ${config.dataDir}\n`);
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) process.exit(1);
    hub.ctx.log.info({ signal }, 'shutting down');
    hub.stop().then(() => process.exit(0), (err) => {
      hub.ctx.log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`anxin hub failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

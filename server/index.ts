/**
 * `npm start`: runs the whole hub on its embedded store. Configuration comes
 * from the environment (SPEC §7); SIGTERM/SIGINT shut down without losing data.
 */
import { plainHttpPolicy } from './api/httpsOnly.js';
import { TlsSettingError } from './broker/tlsIdentity.js';
import { ConfigError, httpsPortOf, loadConfig, type HubConfig } from './config.js';
import { RuleConfigError } from './rules/ruleConfig.js';
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
  let hub;
  try {
    hub = await buildHub(config);
  } catch (err) {
    // A setting the hub cannot start with: its message names it; no stack trace.
    const setting = startupSetting(err, config);
    if (!setting) throw err;
    process.stderr.write(`${setting}\n`);
    process.exit(2);
  }
  if (hub.generatedAdminPassword) {
    // Printed once, to the terminal only (never to the log): it is not stored anywhere in clear.
    process.stdout.write(
      `\n  安心 Anxin: first start. Sign in as "admin" with password: ${hub.generatedAdminPassword}\n` +
      `  (shown only now; set ANXIN_ADMIN_PASSWORD before the first start to choose it)\n\n`,
    );
  }
  // The address to give people first; with HTTPS on, what the plain port still does, so nobody
  // bookmarks the http one (README "HTTPS and reverse proxies").
  const plain = hub.httpPort !== 0 && `http://${config.host}:${hub.httpPort}/`;
  const listeners = [
    hub.httpsPort !== null && `https://${config.host}:${hub.httpsPort}/`,
    plain && ({
      redirect: `${plain} (redirects to https; in clear only /healthz, /readyz, /metrics and devices' /mqtt)`,
      proxy: `${plain} (for ANXIN_TRUST_PROXY: the API only as X-Forwarded-Proto: https)`,
      serve: plain,
    })[plainHttpPolicy(config)],
    hub.mqttPort !== null && `mqtt://${config.host}:${hub.mqttPort}`,
    hub.mqttsPort !== null && `mqtts://${config.host}:${hub.mqttsPort}`,
  ].filter(Boolean);
  process.stdout.write(`  Anxin hub: ${listeners.join('  ')}  data: ${config.dataDir}\n`);
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

/** The message for a start that failed on a setting (the rules file, the data directory), or null for anything else. */
function startupSetting(err: unknown, config: HubConfig): string | null {
  if (err instanceof RuleConfigError) return `ANXIN_RULES_FILE ${config.rulesFile}: ${err.message}`;
  if (err instanceof TlsSettingError) return err.message;
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  if (e.message?.startsWith('ANXIN_RULES_FILE ')) return e.message;
  const code = e.code ?? e.cause?.code;
  if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EROFS' || code === 'SQLITE_CANTOPEN') {
    return `ANXIN_DATA_DIR ${config.dataDir}: cannot hold the store (${e.message})`;
  }
  if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    const settings = [`ANXIN_HOST ${config.host}`, `ANXIN_HTTP_PORT ${config.httpPort}`, `ANXIN_MQTT_PORT ${config.mqttPort}`];
    if (config.tlsCert) settings.push(`ANXIN_MQTTS_PORT ${config.mqttsPort}`);
    const https = httpsPortOf(config);
    if (https !== null) settings.push(`ANXIN_HTTPS_PORT ${https}`);
    return `${settings.slice(0, -1).join(', ')} or ${settings.at(-1)}: cannot listen (${e.message})`;
  }
  return null;
}

main().catch((err) => {
  process.stderr.write(`anxin hub failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

/** `npm run demo -- [options]`: parsed and checked once. */
export interface DemoOptions {
  homes: number;
  seed: string;
  /** Exit after this many seconds; undefined: run until Ctrl-C. */
  durationSeconds?: number;
  httpPort: number;
  mqttPort: number;
  dataDir: string;
  /** Keep the data directory of the previous run instead of starting fresh. */
  keep: boolean;
  /** Simulated seconds per real second for the residents' daily life. */
  timeScale: number;
  /** Local time (Asia/Shanghai) at which the simulated day starts. */
  start: string;
  /** Days of cuff and glucose-meter memory synced at start, for the charts. */
  historyDays: number;
  /** Run `npm run build:ui` first. */
  build: boolean;
  /** Log level of the hub and the gateways (their logs go to files in the data directory). */
  logLevel: string;
}

export const DEMO_USAGE = `usage: npm run demo -- [options]
  --homes N          demo homes, 1–200 (default 20)
  --seed S           seed of the simulated district and its days (default "anxin")
  --duration SEC     stop after SEC seconds (default: run until Ctrl-C)
  --http-port P      hub HTTP port: API, dashboards (default 8080)
  --mqtt-port P      hub MQTT port (default 1883)
  --data-dir DIR     where the hub, gateways and logs keep their files (default ./demo-data)
  --keep             keep DIR from the previous run (default: start fresh)
  --time-scale X     simulated time runs X times faster for daily life (default 60: an hour a minute)
  --start HH:MM      simulated local time at start (default 06:50, just before the morning measurements)
  --history-days D   days of meter memory synced at start, for the charts (default 7; 0: none)
  --skip-build       do not run "npm run build:ui" first
  --log-level L      hub and gateway log level (default warn)`;

export class DemoOptionsError extends Error {}

export function parseDemoArgs(argv: readonly string[]): DemoOptions {
  const o: DemoOptions = {
    homes: 20, seed: 'anxin', httpPort: 8080, mqttPort: 1883, dataDir: './demo-data', keep: false,
    timeScale: 60, start: '06:50', historyDays: 7, build: true, logLevel: 'warn',
  };
  const int = (flag: string, v: string, min: number, max: number) => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new DemoOptionsError(`${flag} must be an integer ${min}–${max}, got "${v}"`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--keep') { o.keep = true; continue; }
    if (flag === '--skip-build') { o.build = false; continue; }
    const value = argv[++i];
    if (value === undefined) throw new DemoOptionsError(flag.startsWith('--') ? `${flag} needs a value` : `unknown argument "${flag}"`);
    switch (flag) {
      case '--homes': o.homes = int(flag, value, 1, 200); break;
      case '--seed': o.seed = value; break;
      case '--duration': o.durationSeconds = int(flag, value, 1, 30 * 86_400); break;
      case '--http-port': o.httpPort = int(flag, value, 1, 65535); break;
      case '--mqtt-port': o.mqttPort = int(flag, value, 1, 65535); break;
      case '--data-dir': o.dataDir = value; break;
      case '--time-scale': {
        const x = Number(value);
        if (!(x >= 1 && x <= 3600)) throw new DemoOptionsError(`--time-scale must be a number 1–3600, got "${value}"`);
        o.timeScale = x;
        break;
      }
      case '--start':
        if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(value)) throw new DemoOptionsError(`--start must be HH:MM, got "${value}"`);
        o.start = value;
        break;
      case '--history-days': o.historyDays = int(flag, value, 0, 90); break;
      case '--log-level':
        if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(value)) throw new DemoOptionsError(`--log-level must be a pino level, got "${value}"`);
        o.logLevel = value;
        break;
      default: throw new DemoOptionsError(`unknown option "${flag}"`);
    }
  }
  if (o.httpPort === o.mqttPort) throw new DemoOptionsError('--http-port and --mqtt-port must differ');
  return o;
}

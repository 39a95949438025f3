/**
 * Starts a real InfluxDB 1.x server (`influxd` from the Debian package, which
 * `scripts/ensure-system-deps.sh` installs) for tests and benchmarks: its own
 * generated config, HTTP and the RPC service on free loopback ports, meta, data
 * and WAL in a temp dir, usage reporting, `_internal` monitoring and every
 * other listener off. Nothing is mocked.
 *
 * `stop()` ends it for good (SIGTERM) and deletes its files; `kill()` crashes
 * it (SIGKILL) and keeps its files; `restart()` starts it again on the same
 * ports and files, as an outage that ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './process.js';

export interface InfluxServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  dir: string;
  /** Ends the server (SIGTERM, then SIGKILL after 5 s) and deletes its files. */
  stop(): Promise<void>;
  /** Crashes the server (SIGKILL); its files stay for `restart()`. */
  kill(): Promise<void>;
  /** Starts the server again on the same ports and files (killing it first if it runs). */
  restart(): Promise<void>;
  /** The server's output so far (for failure messages). */
  output(): string;
  /** The running server's process id (benchmarks read its CPU time), or null while it is down. */
  pid(): number | null;
}

export const INFLUXD = process.env.ANXIN_TEST_INFLUXD ?? '/usr/bin/influxd';

function configFile(dir: string, httpPort: number, rpcPort: number, cqRunInterval: string): string {
  const path = (p: string) => JSON.stringify(join(dir, p));
  return `
reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = ${path('meta')}
  retention-autocreate = true
  logging-enabled = false

[data]
  dir = ${path('data')}
  wal-dir = ${path('wal')}
  wal-fsync-delay = "0s"
  query-log-enabled = false
  cache-max-memory-size = 268435456

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[continuous_queries]
  enabled = true
  log-enabled = false
  run-interval = "${cqRunInterval}"
`;
}

/** Starts `influxd` and resolves once `/ping` answers 204. */
export async function startInflux(opts: { cqRunInterval?: string } = {}): Promise<InfluxServer> {
  const dir = mkdtempSync(join(tmpdir(), 'anxin-influx-'));
  const httpPort = await freePort();
  const rpcPort = await freePort();
  const conf = join(dir, 'influxdb.conf');
  writeFileSync(conf, configFile(dir, httpPort, rpcPort, opts.cqRunInterval ?? '1s'));
  const url = `http://127.0.0.1:${httpPort}`;
  let child: ChildProcess | null = null;
  let out = '';

  const alive = () => child !== null && child.exitCode === null && child.signalCode === null;
  const ended = (c: ChildProcess) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));

  const launch = async () => {
    const c = spawn(INFLUXD, ['-config', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', (d) => (out += d));
    c.stderr!.on('data', (d) => (out += d));
    const until = Date.now() + 30_000;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`influxd exited at start (${c.exitCode ?? c.signalCode}):\n${out.slice(-4000)}`);
      try {
        const res = await fetch(`${url}/ping`);
        if (res.status === 204) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > until) throw new Error(`influxd not ready in 30 s:\n${out.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const kill = async () => {
    const c = child;
    if (c && alive()) {
      c.kill('SIGKILL');
      await ended(c);
    }
  };

  try {
    await launch();
  } catch (err) {
    await kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    url,
    dir,
    output: () => out,
    pid: () => (alive() ? child!.pid ?? null : null),
    kill,
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      const c = child;
      if (c && alive()) {
        c.kill('SIGTERM');
        const killer = setTimeout(() => c.kill('SIGKILL'), 5000);
        await ended(c);
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface QuerySeries { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }

/**
 * Runs InfluxQL over plain HTTP (not through the store under test) with times
 * in epoch ms; answers one array of row objects per statement, each row with
 * its series' name as `_measurement` and its GROUP BY tags.
 */
export async function influxQuery(url: string, db: string, q: string): Promise<Array<Array<Record<string, unknown>>>> {
  const res = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ db, q, epoch: 'ms' }) });
  const body = (await res.json()) as { error?: string; results?: Array<{ error?: string; series?: QuerySeries[] }> };
  if (res.status !== 200 || body.error) throw new Error(`InfluxQL ${q}: ${res.status} ${body.error ?? ''}`);
  return (body.results ?? []).map((r) => {
    if (r.error) throw new Error(`InfluxQL ${q}: ${r.error}`);
    return (r.series ?? []).flatMap((s) => s.values.map((v) => ({
      _measurement: s.name, ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])),
    })));
  });
}

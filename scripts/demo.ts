/**
 * `npm run demo`: the whole system with simulated homes (SPEC §7). Starts the
 * real hub as a child process, enrols a fictional district through the real
 * import API, runs one real gateway per home (in this process, each with its
 * own outbox and credentials) and feeds each from its simulators through the
 * gateway's JSON-lines input. A new user sees readings and alerts within a
 * minute; see devices/simulators/README.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { parseGatewayConfig } from '../gateway/config.js';
import { buildGateway, type Gateway } from '../gateway/gateway.js';
import { buildDemoDistrict, importDocument, type DemoDistrict } from '../devices/simulators/demoDistrict.js';
import { OPENING, planTimeline } from '../devices/simulators/demoTimeline.js';
import { HomeSimulator } from '../devices/simulators/homeSimulator.js';
import { LineFeeder } from '../devices/simulators/lineFeeder.js';
import { atLocalTime, DAY, localHhmm, localMidnight, MINUTE, SimClock } from '../devices/simulators/simClock.js';
import { SimulationRunner } from '../devices/simulators/simulationRunner.js';
import { UplinkRelay } from '../devices/simulators/uplinkRelay.js';
import { describeEvent, elapsed, printPatients, printSignIn, printTimeline, say } from './demoConsole.js';
import { HubApi, startHub, type DemoHub } from './demoHub.js';
import { DEMO_USAGE, DemoOptionsError, parseDemoArgs, type DemoOptions } from './demoOptions.js';

export type { DemoOptions };

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MARKER = '.anxin-demo';

interface Credentials { admin: string; users: Record<string, string>; gateways: Record<string, string> }
interface ImportAnswer { credentials: Array<{ username: string; password: string; kind: string }>; users: Array<{ username: string; password: string }> }
interface HomeRig { relay: UplinkRelay; gateway: Gateway; feeder: LineFeeder }

/** A fresh data directory, unless `--keep`; never deletes a directory the demo did not make. */
function prepareDataDir(dir: string, keep: boolean): void {
  if (existsSync(dir) && !keep) {
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(MARKER)) throw new DemoOptionsError(`${dir} exists and was not made by the demo; choose another --data-dir`);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MARKER), 'made by `npm run demo`; the next run deletes this directory unless given --keep\n');
}

function buildDashboards(): void {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  if (!pkg.scripts?.['build:ui']) return;
  process.stdout.write('  building the dashboards (npm run build:ui)… ');
  const run = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build:ui'], { cwd: ROOT, encoding: 'utf8' });
  say(run.status === 0 ? 'done' : `failed (the hub will answer 503 at /):\n${run.stderr.slice(-2000)}`);
}

async function provision(o: DemoOptions, hub: DemoHub, district: DemoDistrict, creds: Credentials): Promise<void> {
  const api = new HubApi(hub.httpUrl);
  await api.login('admin', creds.admin);
  const answer = await api.post<ImportAnswer>('/api/v1/import', importDocument(district));
  for (const c of answer.credentials) if (c.kind === 'gateway') creds.gateways[c.username] = c.password;
  for (const u of answer.users) creds.users[u.username] = u.password;
  for (const h of district.homes) {
    const id = h.layout.gatewayId;
    // A kept hub does not show an existing secret again: issue a new one if ours is lost.
    if (!creds.gateways[id]) creds.gateways[id] = (await api.post<{ password: string }>(`/api/v1/devices/${id}/secret`)).password;
  }
  writeFileSync(join(o.dataDir, 'credentials.json'), `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
  const residents = district.homes.reduce((n, h) => n + h.layout.residents.length, 0);
  const devices = district.homes.reduce((n, h) => n + h.layout.devices.length, 0);
  say(`  enrolled ${district.homes.length} homes, ${residents} residents, ${devices} devices and ${district.users.length} staff through POST /api/v1/import`);
}

async function startGateways(o: DemoOptions, district: DemoDistrict, creds: Credentials, log: Logger): Promise<HomeRig[]> {
  return Promise.all(district.homes.map(async ({ layout }) => {
    const relay = new UplinkRelay({ host: '127.0.0.1', port: o.mqttPort });
    await relay.start();
    const config = parseGatewayConfig({
      hub: `mqtt://127.0.0.1:${relay.port}`, homeId: layout.homeId, username: layout.gatewayId, password: creds.gateways[layout.gatewayId],
      dataDir: join(o.dataDir, 'gateways', layout.gatewayId), input: { port: 0, stdin: false },
      uplink: { reconnectMinMs: 500, reconnectMaxMs: 5000 }, logLevel: o.logLevel,
    });
    const gateway = buildGateway(config, { log: log.child({ homeId: layout.homeId }) });
    await gateway.start();
    return { relay, gateway, feeder: new LineFeeder(gateway.inputPort()) };
  }));
}

/** Past days from the cuffs' and meters' memory, stamped when measured: the charts have a week of history. */
async function syncHistory(o: DemoOptions, district: DemoDistrict, rigs: HomeRig[], now: number): Promise<void> {
  if (o.historyDays === 0) return;
  const clock = new SimClock({ wallStart: now - o.historyDays * DAY });
  const counts = await Promise.all(district.homes.map(async ({ layout }, i) => {
    const sim = new HomeSimulator(layout, { clock, seed: `${o.seed}/history`, measurementsOnly: true });
    const lines = sim.advance(now - 15 * MINUTE).flatMap((e) => (e.kind === 'line' ? [e.line] : []));
    return (await Promise.all(lines.map((l) => rigs[i]!.feeder.send(l)))).filter((a) => a.ok).length;
  }));
  say(`  synced ${counts.reduce((a, b) => a + b, 0)} readings from ${o.historyDays} days of cuff and meter memory`);
}

async function main(o: DemoOptions): Promise<void> {
  const started = Date.now();
  o.dataDir = resolve(o.dataDir);
  say(`安心 Anxin demo: ${o.homes} homes, seed "${o.seed}", data in ${o.dataDir}`);
  prepareDataDir(o.dataDir, o.keep);
  if (o.build) buildDashboards();
  const credsFile = join(o.dataDir, 'credentials.json');
  const creds: Credentials = o.keep && existsSync(credsFile)
    ? JSON.parse(readFileSync(credsFile, 'utf8')) as Credentials
    : { admin: randomBytes(12).toString('base64url'), users: {}, gateways: {} };
  const district = buildDemoDistrict(o.seed, o.homes);

  process.stdout.write(`  starting the hub (node --import tsx server/index.ts; log in ${join(o.dataDir, 'hub.log')})… `);
  const hub = await startHub({
    root: ROOT, httpPort: o.httpPort, mqttPort: o.mqttPort, dataDir: join(o.dataDir, 'hub'),
    adminPassword: creds.admin, logLevel: o.logLevel, logFile: join(o.dataDir, 'hub.log'),
  });
  say('ready');
  const gatewayLog = pino({ level: o.logLevel, base: { service: 'anxin-gateway' }, redact: ['password', '*.password'] },
    pino.destination({ dest: join(o.dataDir, 'gateways.log'), mkdir: true, sync: false }));
  let rigs: HomeRig[] = [];
  let runner: SimulationRunner | null = null;
  let stopping: Promise<void> | null = null;
  const stop = (why: string) => (stopping ??= (async () => {
    say(`\n  stopping (${why}): simulators, ${rigs.length} gateways, then the hub…`);
    await runner?.stop();
    for (const r of rigs) r.feeder.close();
    await Promise.all(rigs.map(async (r) => {
      await r.gateway.stop();
      await r.relay.stop();
    }));
    gatewayLog.flush();
    const code = await hub.stop();
    say(`  stopped (hub exit ${code}); data kept in ${o.dataDir} until the next run`);
  })());
  // Ctrl-C may arrive more than once (from the terminal and relayed by npm and tsx): the first stops
  // in order, repeats are ignored, a third insists (the hub, in its own process group, is killed on exit).
  let signals = 0;
  const onSignal = (name: string) => {
    if (++signals >= 3) process.exit(1);
    void stop(name).then(() => process.exit(0));
  };
  process.on('SIGINT', () => onSignal('Ctrl-C'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  try {
    await provision(o, hub, district, creds);
    rigs = await startGateways(o, district, creds, gatewayLog);
    say(`  started ${rigs.length} gateways (outboxes in ${join(o.dataDir, 'gateways')}), each fed by its home's simulators`);
    await syncHistory(o, district, rigs, Date.now());
  } catch (err) {
    await stop('start failed');
    throw err;
  }

  const wallStart = Date.now();
  const clock = new SimClock({ wallStart, virtualStart: atLocalTime(localMidnight(wallStart), o.start), scale: o.timeScale });
  const sims = district.homes.map((h) => new HomeSimulator(h.layout, { clock, seed: o.seed }));
  const remaining = o.durationSeconds === undefined ? undefined : Math.max(1, o.durationSeconds - (wallStart - started) / 1000);
  const timeline = planTimeline(district.homes.map((h) => h.layout), o.seed, { durationSeconds: remaining });
  for (const t of timeline) sims.find((s) => s.home.homeId === t.homeId)!.schedule(t.scenario, wallStart + t.atSeconds * 1000, t.options);

  printSignIn(`${hub.httpUrl}/`, [
    ...district.users.map((u) => ({ role: u.role, username: u.username, name: u.name, password: creds.users[u.username] })),
    { role: 'admin', username: 'admin', name: '管理员', password: creds.admin, note: '(enrolment only; sees no vitals)' },
  ], credsFile);
  printPatients(district);
  printTimeline(district, timeline, OPENING.length);
  say(`  Daily life runs ${o.timeScale}× faster: simulated ${localHhmm(clock.virtualStart)} now; readings are stamped with the real time.`);
  say(`  Ctrl-C stops everything${o.durationSeconds ? ` (or it stops by itself after ${o.durationSeconds} s)` : ''}. Logs: hub.log, gateways.log in ${o.dataDir}`);
  say();

  runner = new SimulationRunner(sims.map((sim, i) => ({
    sim,
    channel: { send: (line) => rigs[i]!.feeder.send(line), uplink: (a) => (a === 'cut' ? rigs[i]!.relay.cut() : rigs[i]!.relay.restore()) },
  })), {
    onEvent: (report) => {
      const line = describeEvent(report, district, wallStart);
      if (line) say(line);
    },
  });
  runner.start();
  const status = setInterval(() => {
    const s = runner!.stats;
    say(`  ${elapsed(Date.now() - wallStart)} [sim ${localHhmm(clock.toVirtual(Date.now()))}] ${s.sent} lines sent to the gateways, ${s.refused} refused`);
  }, 60_000);
  if (remaining !== undefined) {
    setTimeout(() => {
      clearInterval(status);
      void stop(`--duration ${o.durationSeconds}`).then(() => process.exit(0));
    }, remaining * 1000);
  }
}

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  say(DEMO_USAGE);
  process.exit(0);
}
let options: DemoOptions;
try {
  options = parseDemoArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${DEMO_USAGE}\n`);
  process.exit(2);
}
main(options).catch((err: Error) => {
  process.stderr.write(`demo failed: ${err instanceof DemoOptionsError ? err.message : err.stack ?? String(err)}\n`);
  process.exit(1);
});

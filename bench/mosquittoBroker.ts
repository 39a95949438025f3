/**
 * Mosquitto as a pass-through baseline next to bare aedes: the Debian
 * `mosquitto` (a single-threaded C broker) on a free loopback port with a
 * throw-away configuration, plus one QoS 1 subscriber on every telemetry
 * topic, as `startBareBroker` does for aedes, so both baselines route each
 * reading to a consumer.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/helpers/process.js';
import { passThroughTarget, type IngestTarget } from './ingestTargets.js';
import type { LoadDevice } from './loadGenerator.js';

const CANDIDATES = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'];

/** The broker's executable, or null. */
export function findMosquitto(): string | null {
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/**
 * The executable, installing the Debian package when it is missing and
 * `install` is set and we are root; otherwise why it is not there, for the
 * notes (the column is then skipped, and the notes say so).
 */
export function ensureMosquitto(install: boolean): { path: string; installed: boolean } | { missing: string } {
  const found = findMosquitto();
  if (found) return { path: found, installed: false };
  if (!install) return { missing: 'mosquitto is not installed (--mosquitto-install 0)' };
  if (process.getuid?.() !== 0) return { missing: 'mosquitto is not installed, and installing it needs root: apt-get install -y mosquitto' };
  console.log('  mosquitto is not installed: apt-get install -y mosquitto (Debian package) …');
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'mosquitto'], { env, stdio: 'pipe', timeout: 180_000 });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n').slice(-2).join(' ') ?? (err as Error).message;
    return { missing: `mosquitto is not installed and apt-get install failed: ${stderr}` };
  }
  const path = findMosquitto();
  return path ? { path, installed: true } : { missing: 'apt-get installed mosquitto but no executable was found' };
}

/**
 * The configuration: loopback only, anonymous (like the bare aedes baseline,
 * which checks nothing), no persistence. `max_queued_messages 0` (no limit)
 * because aedes queues without limit for a slow QoS 1 subscriber: mosquitto's
 * default of 1000 would drop deliveries where aedes keeps them.
 */
export function mosquittoConfig(port: number): string {
  return ['listener ' + port + ' 127.0.0.1', 'allow_anonymous true', 'persistence false', 'max_queued_messages 0', 'log_dest stderr', 'log_type error', 'log_type warning', ''].join('\n');
}

async function waitForPort(port: number, ms: number, died: () => string | null): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    const reason = died();
    if (reason !== null) throw new Error(reason);
    if (Date.now() > until) throw new Error(`mosquitto not listening on ${port} in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Mosquitto as an `IngestTarget`: its own process (for /proc), its subscriber in this one. */
export async function startMosquitto(executable: string, devices: LoadDevice[]): Promise<IngestTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'anxin-bench-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, mosquittoConfig(port));
  const child = spawn(executable, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const died = () => child.exitCode ?? child.signalCode;
  try {
    await waitForPort(port, 10_000, () => (died() === null ? null : `mosquitto exited (${died()}):\n${out}`));
  } catch (err) {
    await stop();
    throw err;
  }
  return passThroughTarget({ pid: child.pid!, mqttUrl: `mqtt://127.0.0.1:${port}`, devices, died, output: () => out, stop });
}

/**
 * Composition of the in-home gateway (SPEC §8): outbox on disk → uplink to the
 * hub; inputs (JSON lines over loopback TCP and stdin, zigbee2mqtt) → intake →
 * outbox; local alarm and alert feedback hooks. `buildGateway` wires; `start`
 * listens and connects; `stop` shuts down in the order that loses nothing:
 * stop the inputs, let in-flight publishes be acknowledged, close the outbox.
 */
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { Topics } from '../devices/topics.js';
import { AlertHook } from './alertHook.js';
import { decodeBluetoothLine } from './bluetoothLine.js';
import { createCommandRunner, type CommandRunner } from './commandRunner.js';
import type { GatewayConfig } from './config.js';
import type { GatewayContext } from './gatewayContext.js';
import { Intake } from './intake.js';
import { StreamLineInput, TcpLineInput } from './lineInput.js';
import { LocalAlarm } from './localAlarm.js';
import { createGatewayLogger } from './log.js';
import { Outbox } from './outbox.js';
import { Uplink } from './uplink.js';
import { Zigbee2mqttBridge } from './zigbee2mqttBridge.js';

export interface GatewayDeps {
  log?: Logger;
  now?: () => number;
  /** Where stdin lines come from (when `input.stdin` is on); none in tests. */
  stdin?: Readable;
  run?: CommandRunner;
  random?: () => number;
}

export interface Gateway {
  ctx: GatewayContext;
  uplink: Uplink;
  intake: Intake;
  alarm: LocalAlarm;
  alertHook: AlertHook;
  zigbee2mqtt: Zigbee2mqttBridge | null;
  /** The TCP input's port (after `start`). */
  inputPort(): number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const GATEWAY_VERSION = readVersion();

export function buildGateway(config: GatewayConfig, deps: GatewayDeps = {}): Gateway {
  const log = deps.log ?? createGatewayLogger(config.logLevel, config.homeId);
  const now = deps.now ?? Date.now;
  const outbox = Outbox.open(config.dataDir, { maxReadings: config.outbox.maxReadings, now });
  if (outbox.replacement) {
    const { movedTo, reason, salvaged } = outbox.replacement;
    log.error({ movedTo, reason, salvaged, outboxDepth: outbox.depth, replaced: outbox.replaced }, 'outbox file was damaged; moved aside and replaced by a fresh one');
  }
  const ctx: GatewayContext = {
    config,
    log,
    topics: new Topics(config.topicPrefix),
    outbox,
    run: deps.run ?? createCommandRunner(log.child({ component: 'hooks' })),
    now,
    version: GATEWAY_VERSION,
  };
  const alertHook = new AlertHook(ctx);
  const uplink = new Uplink(ctx, { onAlert: (a) => alertHook.handle(a), random: deps.random });
  const alarm = new LocalAlarm(ctx, { hubReachable: () => uplink.connected });
  outbox.onRejected((r) => alarm.refused(r));
  const intake = new Intake(ctx, {
    decodeBluetooth: decodeBluetoothLine,
    onAccepted: (r) => alarm.consider(r),
    onNotSent: (r, reason) => alarm.alarmNow(r, reason),
  });
  const tcp = new TcpLineInput({ port: config.input.port, intake, log: log.child({ component: 'input' }) });
  const stdin = config.input.stdin && deps.stdin ? new StreamLineInput({ stream: deps.stdin, intake, log: log.child({ component: 'stdin' }) }) : null;
  const zigbee2mqtt = config.zigbee2mqtt ? new Zigbee2mqttBridge(ctx, intake) : null;

  let started = false;
  const stop = async () => {
    // Inputs first (nothing new arrives), then the uplink (in-flight PUBACKs land), then the disk.
    await tcp.stop();
    stdin?.stop();
    await zigbee2mqtt?.stop();
    intake.stop();
    await uplink.stop();
    alarm.stop();
    outbox.close();
    if (started) log.info('gateway stopped');
  };

  return {
    ctx,
    uplink,
    intake,
    alarm,
    alertHook,
    zigbee2mqtt,
    inputPort: () => tcp.port,
    async start() {
      try {
        // Before the uplink: the falls and SOS a crash left unacknowledged are looked at first.
        alarm.start();
        intake.start();
        uplink.start();
        await tcp.start();
        stdin?.start();
        zigbee2mqtt?.start();
      } catch (err) {
        await stop();
        throw err;
      }
      started = true;
      log.info({ hub: config.hub.replace(/^([a-z0-9+.-]+:\/\/).*@/i, '$1***@'), gatewayId: config.username, outboxDepth: outbox.depth, version: GATEWAY_VERSION }, 'gateway started');
    },
    stop,
  };
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

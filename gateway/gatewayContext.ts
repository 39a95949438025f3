/**
 * The one typed context that `gateway/gateway.ts` composes and passes to every
 * feature. Nothing in the gateway reaches for globals or reads the environment.
 */
import type { Logger } from 'pino';
import type { Topics } from '../devices/topics.js';
import type { CommandRunner } from './commandRunner.js';
import type { GatewayConfig } from './config.js';
import type { Outbox } from './outbox.js';

export interface GatewayContext {
  config: GatewayConfig;
  log: Logger;
  topics: Topics;
  outbox: Outbox;
  /** Runs installer hooks (local alarm, alert feedback) without blocking. */
  run: CommandRunner;
  now: () => number;
  /** Reported in `gateway/status`. */
  version: string;
}

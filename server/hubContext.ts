/**
 * The one typed context that `server/hub.ts` composes and passes down. Nothing
 * in the hub reaches for globals; what a part needs arrives here.
 */
import type { Logger } from 'pino';
import type { Topics } from '../devices/topics.js';
import type { HubBroker } from './broker/broker.js';
import type { HubConfig } from './config.js';
import type { EventBus } from './events.js';
import type { HubMetrics } from './metrics.js';
import type { DirectoryStore } from './store/directoryStore.js';
import type { GroupCommit } from './store/groupCommit.js';
import type { RefusalStore } from './store/refusalStore.js';
import type { Db } from './store/sqliteDb.js';
import type { ReadingStore } from './store/types.js';
import type { UserStore } from './store/userStore.js';

export interface HubContext {
  config: HubConfig;
  log: Logger;
  metrics: HubMetrics;
  events: EventBus;
  topics: Topics;
  db: Db;
  writer: GroupCommit;
  directory: DirectoryStore;
  readings: ReadingStore;
  refusals: RefusalStore;
  users: UserStore;
  broker: HubBroker;
  now: () => number;
  /** False while starting and once shutting down; `/readyz` reports it. */
  ready: () => boolean;
}

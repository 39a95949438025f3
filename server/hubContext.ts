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
import type { StoreHealth } from './store/storeHealth.js';
import type { RefusalStore } from './store/refusalStore.js';
import type { Db } from './store/sqliteDb.js';
import type { TimeSeries } from './store/timeSeries.js';
import type { ReadingQueryStore, ReadingStore } from './store/types.js';
import type { UserStore } from './store/userStore.js';
import type { AlertStore } from './alerts/alertStore.js';
import type { AlertService } from './alerts/alertService.js';
import type { AlertEngine } from './alerts/alertEngine.js';
import type { Watchdog } from './alerts/watchdog.js';
import type { Lang } from './alerts/alertPresenter.js';
import type { Alert } from './alerts/alertStore.js';
import type { EventLog } from './realtime/eventLog.js';
import type { StreamHub } from './realtime/streamHub.js';
import type { RuleConfig } from './rules/ruleConfig.js';
import type { DeliveryQueue } from './notify/deliveryQueue.js';

export interface HubContext {
  config: HubConfig;
  log: Logger;
  metrics: HubMetrics;
  events: EventBus;
  topics: Topics;
  db: Db;
  writer: GroupCommit;
  /** Whether the store is writing (disk full, I/O errors: `/readyz` says so). */
  storeHealth: StoreHealth;
  directory: DirectoryStore;
  readings: ReadingStore;
  /** What the readings API reads: InfluxDB when configured (with the journal filling in), else the journal. */
  readingQueries: ReadingQueryStore;
  /** InfluxDB forwarding, when configured. */
  timeSeries: TimeSeries | null;
  refusals: RefusalStore;
  users: UserStore;
  broker: HubBroker;
  ruleConfig: RuleConfig;
  alerts: AlertStore;
  engine: AlertEngine;
  alertService: AlertService;
  watchdog: Watchdog;
  eventLog: EventLog;
  stream: StreamHub;
  deliveries: DeliveryQueue;
  /** The 120 hand-off summary of an alert, in the reader's language first (both are included). */
  handoff: (alert: Alert, lang: Lang) => object | null;
  now: () => number;
  /** False while starting and once shutting down; `/readyz` reports it. */
  ready: () => boolean;
}

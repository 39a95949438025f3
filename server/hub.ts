/**
 * Composition of the hub: store → broker + ingest → HTTP API. `buildHub` wires
 * everything and listens; `stop` shuts down in the order that loses nothing:
 * stop accepting, commit what was queued, close connections, close the store.
 */
import type { Logger } from 'pino';
import { Topics } from '../devices/topics.js';
import { buildHttp, type Http } from './api/http.js';
import { HubBroker } from './broker/broker.js';
import type { HubConfig } from './config.js';
import { EventBus } from './events.js';
import type { HubContext } from './hubContext.js';
import { Ingest } from './ingest/ingest.js';
import { createLogger } from './log.js';
import { HubMetrics } from './metrics.js';
import { DirectoryStore } from './store/directoryStore.js';
import { GroupCommit } from './store/groupCommit.js';
import { RefusalStore } from './store/refusalStore.js';
import { openDatabase } from './store/sqliteDb.js';
import { SqliteReadingStore } from './store/sqliteReadingStore.js';
import { UserStore } from './store/userStore.js';

export interface Hub {
  ctx: HubContext;
  http: Http;
  /** Bound ports (useful when configured as 0). */
  httpPort: number;
  mqttPort: number;
  /** Set on the very first start when no admin password was configured; print it once. */
  generatedAdminPassword: string | null;
  stop(): Promise<void>;
}

export interface HubOptions {
  log?: Logger;
  now?: () => number;
}

export async function buildHub(config: HubConfig, opts: HubOptions = {}): Promise<Hub> {
  const log = opts.log ?? createLogger(config.logLevel);
  const now = opts.now ?? Date.now;
  const metrics = new HubMetrics();
  const events = new EventBus(log);
  const topics = new Topics(config.topicPrefix);
  const db = openDatabase(config.dataDir, config.sync);
  const writer = new GroupCommit(db, {
    onCommit: (seconds, jobs) => {
      metrics.storeCommitLatency.observe(seconds);
      metrics.storeCommitSize.observe(jobs);
    },
    onError: (err) => log.error({ err }, 'group commit failed; retrying its writes one by one'),
  });
  const directory = new DirectoryStore(db, writer);
  directory.resetConnections();
  const readings = new SqliteReadingStore(db, writer);
  const refusals = new RefusalStore(db, writer, config.refusalLimit);
  const users = new UserStore(db, now);
  const admin = await users.ensureAdmin(config.adminPassword);

  let ready = false;
  const ingest = new Ingest({
    topics, directory, readings, refusals, events, metrics, now,
    log: log.child({ component: 'ingest' }),
    // The broker is created just below; the ingest publishes only once it runs.
    publish: (topic, payload) => broker.publish(topic, payload),
  });
  const broker = new HubBroker({
    topics, directory, ingest, events, metrics,
    log: log.child({ component: 'broker' }),
    connectBurst: config.connectBurst,
    connectPerSecond: config.connectPerSecond,
  });
  await broker.start();

  const ctx: HubContext = { config, log, metrics, events, topics, db, writer, directory, readings, refusals, users, broker, now, ready: () => ready };
  const http = await buildHttp(ctx);
  await http.listen({ port: config.httpPort, host: config.host });
  const httpPort = (http.server.address() as { port: number }).port;
  const mqttPort = await broker.listenTcp(config.mqttPort, config.host);
  const sessionSweep = setInterval(() => users.pruneSessions(), 3600_000).unref();
  const directoryWatch = setInterval(() => directory.refreshIfChangedElsewhere(), 5000).unref();
  ready = true;
  log.info({ httpPort, mqttPort, host: config.host, dataDir: config.dataDir }, 'hub ready');

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      ready = false;
      clearInterval(sessionSweep);
      clearInterval(directoryWatch);
      log.info('hub stopping');
      void broker.stopAccepting();
      writer.flush();
      await broker.close();
      await http.close();
      writer.close();
      db.close();
      log.info('hub stopped');
    })();
    return stopping;
  };

  return { ctx, http, httpPort, mqttPort, generatedAdminPassword: admin?.generated ?? null, stop };
}

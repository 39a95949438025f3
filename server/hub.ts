/**
 * Composition of the hub: store → broker + ingest → HTTP API. `buildHub` wires
 * everything and listens; `stop` shuts down in the order that loses nothing:
 * stop accepting, commit what was queued, close connections, close the store.
 */
import type { Logger } from 'pino';
import type { Reading } from '../devices/validateReading.js';
import { Topics } from '../devices/topics.js';
import { buildHttp, httpsServerFor, type Http } from './api/http.js';
import { HttpsOnly } from './api/httpsOnly.js';
import { hashSecret } from './auth/secrets.js';
import { HubBroker } from './broker/broker.js';
import { loadTlsIdentity, tlsFilesOf } from './broker/tlsIdentity.js';
import { TlsListener } from './broker/tlsListener.js';
import { httpsPortOf, type HubConfig } from './config.js';
import { EventBus } from './events.js';
import { ThrottledLog } from './logThrottle.js';
import type { HubContext } from './hubContext.js';
import { Ingest } from './ingest/ingest.js';
import { createLogger } from './log.js';
import { HubMetrics } from './metrics.js';
import { DirectoryStore } from './store/directoryStore.js';
import { GroupCommit } from './store/groupCommit.js';
import { RefusalStore } from './store/refusalStore.js';
import { openDatabase, type Db } from './store/sqliteDb.js';
import { SqliteReadingStore } from './store/sqliteReadingStore.js';
import { JournalRetention } from './store/journalRetention.js';
import { StoreHealth } from './store/storeHealth.js';
import { startTimeSeries } from './store/timeSeries.js';
import { UserStore } from './store/userStore.js';
import { AlertEngine, streamReading } from './alerts/alertEngine.js';
import { AlertService } from './alerts/alertService.js';
import { homeFeedback } from './alerts/alertPresenter.js';
import { AlertStore } from './alerts/alertStore.js';
import { EscalationNotifier } from './alerts/escalationNotifier.js';
import { buildHandoff } from './alerts/handoff.js';
import { Watchdog } from './alerts/watchdog.js';
import { DeliveryQueue } from './notify/deliveryQueue.js';
import { LogNotifier } from './notify/logNotifier.js';
import type { Channel, Notifier } from './notify/notifier.js';
import { createSmsNotifier } from './notify/smsProviders.js';
import { WebhookNotifier } from './notify/webhookNotifier.js';
import { EventLog } from './realtime/eventLog.js';
import { StreamHub } from './realtime/streamHub.js';
import { loadRuleConfigFile } from './rules/ruleConfigFile.js';

export interface Hub {
  ctx: HubContext;
  http: Http;
  /**
   * Bound ports (useful when configured as 0); null for a listener that is off, but plain HTTP's is
   * 0 when off (a number still for callers that predate `ANXIN_HTTP_PORT=off`; a bound port is never 0).
   */
  httpPort: number;
  /** HTTPS: only with a certificate configured (and `ANXIN_HTTPS_PORT` not off). */
  httpsPort: number | null;
  mqttPort: number | null;
  /** MQTT over TLS: only with a certificate configured. */
  mqttsPort: number | null;
  /** Set on the very first start when no admin password was configured; print it once. */
  generatedAdminPassword: string | null;
  /** Opt-in pruning of the readings journal: passes on a timer when configured; `pass()` runs one now. */
  retention: JournalRetention;
  stop(): Promise<void>;
}

export interface HubOptions {
  log?: Logger;
  now?: () => number;
}

export async function buildHub(config: HubConfig, opts: HubOptions = {}): Promise<Hub> {
  const log = opts.log ?? createLogger(config.logLevel);
  const now = opts.now ?? Date.now;
  // Before anything is opened: a certificate that cannot be served stops the start (index.ts names the variable).
  const tlsFiles = tlsFilesOf(config);
  const tlsIdentity = tlsFiles && loadTlsIdentity(tlsFiles);
  const metrics = new HubMetrics();
  const events = new EventBus(log);
  const topics = new Topics(config.topicPrefix);
  const db = openDatabase(config.dataDir, config.sync);
  const storeHealth = new StoreHealth(now);
  // While the disk is full every batch fails: one line per 10 s says so, not one per reading.
  const writeFailed = new ThrottledLog(log, 'error', 'store write failed');
  const writer = new GroupCommit(db, {
    onCommit: (seconds, jobs) => {
      metrics.storeCommitLatency.observe(seconds);
      metrics.storeCommitSize.observe(jobs);
      if (storeHealth.state().failing) {
        storeHealth.committed();
        metrics.storeFailing.set(0);
        log.warn('store writes again');
      }
    },
    // Failed writes are answered to their senders (no PUBACK); the rest of the batch is committed.
    onError: (err) => {
      const fault = storeHealth.failed(err);
      metrics.storeWriteFailures.inc({ kind: fault ? 'store' : 'job' });
      if (fault) metrics.storeFailing.set(1);
      writeFailed.write({ err });
    },
    // The ingest's writes (readings, their alerts and events) run on a writer thread.
    thread: true,
  });
  const directory = new DirectoryStore(db, writer);
  directory.resetConnections();
  const readings = new SqliteReadingStore(db, writer);
  const refusals = new RefusalStore(db, writer, config.refusalLimit);
  const users = new UserStore(db, now);
  const ruleConfig = loadRuleConfigFile(config.rulesFile);

  // Alerts: the engine evaluates inside the readings' transaction (see SqliteReadingStore.onStored).
  const alerts = new AlertStore(db, writer);
  const eventLog = new EventLog(db, writer, { log: log.child({ component: 'stream' }), metrics });
  const notifiers: Partial<Record<Channel, Notifier>> = {
    log: new LogNotifier(log.child({ component: 'notify' })),
    // SMS through the configured provider (ANXIN_SMS_PROVIDER); without one, a logging stand-in that reaches nobody.
    sms: createSmsNotifier(config, log.child({ component: 'sms' })),
    ...(config.webhookSecret && { webhook: new WebhookNotifier({ secret: config.webhookSecret }) }),
  };
  const deliveries = new DeliveryQueue(db, notifiers, {
    log: log.child({ component: 'deliveries' }), now,
    onSettled: (s) => {
      metrics.notificationsSettled.inc({ channel: s.channel, outcome: s.outcome });
      escalations.settled(s);
    },
  });
  metrics.watchNotifications(() => deliveries.pendingCount());
  // Tells doctors of escalations through the queue, and the alert service whether anyone was reached.
  const escalations = new EscalationNotifier(db, deliveries, new Set(Object.keys(notifiers) as Channel[]));
  // Created below; the engine and the ingest publish through it only once it runs.
  // eslint-disable-next-line prefer-const
  let broker: HubBroker | undefined;
  const engine = new AlertEngine({
    db, writer, alerts, events: eventLog, directory, topics, config: ruleConfig, now,
    log: log.child({ component: 'alerts' }),
    publishToHome: (topic, payload) => broker?.publish(topic, payload),
  });
  metrics.watchOpenAlerts(() => engine.unresolved());
  // Benchmarks only (bench/alerts.ts): measures what judging readings costs. Never in production.
  const rulesOff = process.env.ANXIN_BENCH_NO_RULES === '1';
  if (rulesOff) log.warn('ANXIN_BENCH_NO_RULES=1: readings are stored but NOT judged by the rules (benchmark mode)');
  // Inside the readings' job, as a savepoint (engine.judge): a fault in the rules must not
  // refuse the readings themselves (the device would resend them forever).
  const judge = (stored: Reading[]) => {
    engine.onReadingsStored(stored);
    watchdog.onReadingsStored(stored);
  };
  // Screens see each new reading (the reading is its event's record); the bench's rules-off mode skips this too.
  if (!rulesOff) readings.streamWith((r) => streamReading(eventLog, r));
  if (!rulesOff) readings.onStored((stored) => {
    try {
      engine.judge(() => judge(stored));
    } catch (err) {
      metrics.rulesErrors.inc();
      log.error({ err, readings: stored.map((r) => `${r.deviceId}/${r.id}`) }, 'rules evaluation failed; readings stored without alert evaluation');
    }
  });
  const watchdog = new Watchdog({ db, writer, engine, alerts, events: eventLog, directory, config: ruleConfig, tz: config.tz, now, log: log.child({ component: 'watchdog' }) });
  events.on('device.status', (s) => watchdog.onStatus(s));
  const alertService = new AlertService({
    writer, engine, alerts, directory, now, log: log.child({ component: 'alerts' }),
    canSignIn: (username) => users.user(username) !== null,
    notifier: escalations,
  });
  escalations.reportTo({
    doctorReached: (...args) => alertService.doctorReached(...args),
    doctorUnreachable: (...args) => {
      metrics.doctorsUnreachable.inc();
      alertService.doctorUnreachable(...args);
    },
  });
  warnUnusableWebhooks(db, config, log);
  const stream = new StreamHub(eventLog, directory, log.child({ component: 'stream' }), { sessions: users, now, metrics });

  let ready = false;
  const ingest = new Ingest({
    topics, directory, readings, refusals, events, metrics, now,
    log: log.child({ component: 'ingest' }),
    // The broker is created just below; the ingest publishes only once it runs.
    publish: (topic, payload) => broker?.publish(topic, payload),
  });
  broker = new HubBroker({
    topics, directory, ingest, events, metrics,
    homeAlerts: (homeId) => alerts.unresolvedOfHome(homeId).map(homeFeedback),
    log: log.child({ component: 'broker' }),
    connectBurst: config.connectBurst,
    connectPerSecond: config.connectPerSecond,
    now,
    rehashSecret: (username, stored, secret) => {
      void hashSecret(secret, 'device')
        .then((hash) => directory.replaceSecretHash(username, stored, hash))
        .then((replaced) => { if (replaced) log.info({ username }, 'device secret hash upgraded to the current scheme'); })
        .catch((err: unknown) => log.warn({ err, username }, 'upgrading a device secret hash failed; the old one still works'));
    },
  });
  await broker.start();

  // InfluxDB, when configured: fed from the readings journal, answering the readings API.
  const timeSeries = await startTimeSeries(config, { db, writer, readings, metrics, log, now });
  // Never prunes what InfluxDB has not confirmed (or refused: the journal answers for those).
  const retention = new JournalRetention({
    db, writer, metrics, now, log: log.child({ component: 'retention' }), forwarding: timeSeries?.forwarder ?? null,
    heartbeatRetentionDays: config.heartbeatRetentionDays, readingRetentionDays: config.readingRetentionDays,
  });
  const ctx: HubContext = {
    config, log, metrics, events, topics, db, writer, storeHealth, directory, readings, refusals, users, broker, now, ready: () => ready,
    ruleConfig, alerts, engine, alertService, watchdog, eventLog, stream, deliveries,
    readingQueries: timeSeries?.queries ?? readings, timeSeries,
    handoff: (alert) => buildHandoff(db, directory, alert, now(), config.tz),
  };
  // With HTTPS on, the plain port redirects pages and refuses the API (README "HTTPS and reverse proxies").
  const httpsOnly = new HttpsOnly(config);
  const http = await buildHttp(ctx, httpsOnly);
  // Plain HTTP on fastify's own server; HTTPS on a second server routed into the same app (http.ts
  // `httpsServerFor`), whose certificate a TlsListener loads, renews and warns about as for MQTT.
  let httpPort = 0;
  if (config.httpPort === 'off') {
    await http.ready();
  } else {
    await http.listen({ port: config.httpPort, host: config.host });
    httpPort = (http.server.address() as { port: number }).port;
  }
  const httpsServers: Array<ReturnType<typeof httpsServerFor>> = [];
  const https = tlsFiles && tlsIdentity && httpsPortOf(config) !== null
    ? new TlsListener({
      files: tlsFiles, identity: tlsIdentity, reloadMs: config.tlsReloadSeconds * 1000, now, name: 'https',
      log: log.child({ component: 'https' }),
      createServer: (options) => {
        const server = httpsServerFor(http, options);
        httpsServers.push(server);
        return server;
      },
      // The same files as MQTT over TLS, so the same expiry: one gauge.
      onCertificate: (validTo) => metrics.tlsCertificateExpiry.set(validTo / 1000),
    })
    : null;
  const mqttPort = config.mqttPort === 'off' ? null : await broker.listenTcp(config.mqttPort, config.host);
  const mqttsPort = tlsFiles && tlsIdentity
    ? await broker.listenTls(config.mqttsPort, config.host, { files: tlsFiles, identity: tlsIdentity, reloadMs: config.tlsReloadSeconds * 1000, now })
    : null;
  const httpsPort = https ? await https.listen(httpsPortOf(config)!, config.host) : null;
  if (httpsPort !== null) httpsOnly.httpsListening(httpsPort);
  // Only once everything that can fail at start has succeeded: an admin created by a start that then
  // failed (a port in use, a bad rules file) had its generated password never shown, and no later
  // start would create or show one.
  const admin = await users.ensureAdmin(config.adminPassword);
  const sessionSweep = setInterval(() => users.pruneSessions(), 3600_000).unref();
  const directoryWatch = setInterval(() => directory.refreshIfChangedElsewhere(), 5000).unref();
  deliveries.start();
  retention.start();
  const tick = setInterval(() => {
    watchdog.tick().catch((err) => log.error({ err }, 'time-based rules failed'));
  }, config.tickMs).unref();
  const prune = setInterval(() => {
    writer.run(() => eventLog.prune(now() - config.eventRetentionHours * 3600_000)).catch((err) => log.error({ err }, 'event log prune failed'));
  }, 3600_000).unref();
  ready = true;
  log.info({ httpPort, httpsPort, plainHttp: httpsOnly.policy, mqttPort, mqttsPort, host: config.host, dataDir: config.dataDir }, 'hub ready');

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      // The store's threads do not keep the process alive (unref'd), so while they finish, nothing
      // else may either: without this, the process exited as soon as the servers were closed, in the
      // middle of this sequence (exit code 0, the store's connections closed by exit hooks, "hub
      // stopped" never logged).
      const hold = setInterval(() => {}, 60_000);
      try {
        await shutdown();
      } finally {
        clearInterval(hold);
      }
    })();
    return stopping;
  };
  const shutdown = async () => {
    ready = false;
    clearInterval(sessionSweep);
    clearInterval(directoryWatch);
    clearInterval(tick);
    clearInterval(prune);
    stream.close();
    log.info('hub stopping');
    void broker.stopAccepting();
    await retention.stop();
    await writer.drain();
    await broker.close();
    // Stops accepting HTTPS; fastify's close then ends the WebSockets of both servers (one ws server).
    // Connections still open after it (keep-alive) would hold the HTTPS server's close.
    const httpsClosed = https?.close();
    await http.close();
    for (const server of httpsServers) server.closeAllConnections();
    await httpsClosed;
    await deliveries.stop();
    await timeSeries?.stop();
    await writer.close();
    db.close();
    log.info('hub stopped');
  };

  return { ctx, http, httpPort, httpsPort, mqttPort, mqttsPort, generatedAdminPassword: admin?.generated ?? null, retention, stop };
}

/**
 * A doctor's webhook is used only with a secret to sign it (WebhookNotifier);
 * without one, escalations to them fall back to whatever else they have, so
 * say it at start-up instead of letting it be found at an emergency.
 */
function warnUnusableWebhooks(db: Db, config: HubConfig, log: Logger): void {
  if (config.webhookSecret) return;
  const doctors = db.prepare('SELECT username FROM users WHERE webhook_url IS NOT NULL AND disabled = 0 ORDER BY username').pluck().all() as string[];
  if (doctors.length === 0) return;
  log.warn({ doctors }, 'doctors have a webhook URL but ANXIN_WEBHOOK_SECRET is not set: no webhook is sent to them (escalations say so to the call center)');
}

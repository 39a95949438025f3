/**
 * Prometheus metrics of one hub. Each hub owns its registry, so several hubs
 * in one process (tests, benchmarks) do not mix their figures.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class HubMetrics {
  readonly registry = new Registry();

  readonly connectedClients = new Gauge({
    name: 'anxin_mqtt_connected_clients', help: 'MQTT clients connected, by kind', labelNames: ['kind'] as const, registers: [this.registry],
  });
  readonly connectRefused = new Counter({
    name: 'anxin_mqtt_connect_refused_total', help: 'MQTT connections refused, by reason', labelNames: ['reason'] as const, registers: [this.registry],
  });
  readonly mqttPacketsTooLarge = new Counter({
    name: 'anxin_mqtt_packets_too_large_total', help: 'MQTT connections closed for a packet over the maximum packet size, by stage: before_sign_in, signed_in',
    labelNames: ['stage'] as const, registers: [this.registry],
  });
  readonly mqttMessagesDropped = new Counter({
    name: 'anxin_mqtt_messages_dropped_total', help: 'Messages (rejects, alerts) not sent to a client that was not reading its socket (send backlog over the cap), by topic',
    labelNames: ['topic'] as const, registers: [this.registry],
  });
  readonly homeAlertsResent = new Counter({
    name: 'anxin_home_alerts_resent_total', help: 'Unresolved alerts sent to a gateway as they stand when it subscribed to its home\'s alerts', registers: [this.registry],
  });
  readonly aclDenied = new Counter({
    name: 'anxin_mqtt_acl_denied_total', help: 'Publishes and subscriptions refused by the topic ACL', labelNames: ['action', 'kind'] as const, registers: [this.registry],
  });
  readonly readingsAccepted = new Counter({
    name: 'anxin_readings_accepted_total', help: 'Readings stored, by type', labelNames: ['type'] as const, registers: [this.registry],
  });
  readonly readingsDuplicate = new Counter({
    name: 'anxin_readings_duplicate_total', help: 'Readings acknowledged as duplicates of one already stored', registers: [this.registry],
  });
  readonly readingsRefused = new Counter({
    name: 'anxin_readings_refused_total', help: 'Readings refused, by reason', labelNames: ['reason'] as const, registers: [this.registry],
  });
  readonly ingestLatency = new Histogram({
    name: 'anxin_ingest_latency_seconds', help: 'From a telemetry publish arriving to its readings being durable',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [this.registry],
  });
  private ingestLoadSource: (() => { weightInFlight: number; publishesWaiting: number }) | null = null;
  readonly ingestWeightInFlight = new Gauge({
    name: 'anxin_ingest_weight_in_flight',
    help: 'Readings (accepted or refused) parsed and not yet durable, plus 3 per publish: what the ingest caps hub-wide (server/ingest/ingestBudget.ts; read at each scrape)',
    registers: [this.registry],
    collect: () => {
      if (this.ingestLoadSource) this.ingestWeightInFlight.set(this.ingestLoadSource().weightInFlight);
    },
  });
  readonly ingestPublishesWaiting = new Gauge({
    name: 'anxin_ingest_publishes_waiting', help: 'Telemetry publishes waiting unparsed for the weight in flight to fall under the cap; their senders are not read meanwhile (read at each scrape)',
    registers: [this.registry],
    collect: () => {
      if (this.ingestLoadSource) this.ingestPublishesWaiting.set(this.ingestLoadSource().publishesWaiting);
    },
  });

  /** Where the ingest's load gauges read from (the ingest's budget). */
  watchIngestLoad(source: () => { weightInFlight: number; publishesWaiting: number }): void {
    this.ingestLoadSource = source;
  }

  readonly storeCommitLatency = new Histogram({
    name: 'anxin_store_commit_seconds', help: 'Duration of one group commit of the embedded store',
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5], registers: [this.registry],
  });
  readonly storeCommitSize = new Histogram({
    name: 'anxin_store_commit_jobs', help: 'Writes committed together in one transaction',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000], registers: [this.registry],
  });
  readonly storeWriteFailures = new Counter({
    name: 'anxin_store_write_failures_total',
    help: 'Failed writes of the embedded store, by kind: store (disk full, I/O error, read-only, writer thread gone: /readyz is 503 until a write succeeds) or job (one write refused)',
    labelNames: ['kind'] as const, registers: [this.registry],
  });
  readonly storeFailing = new Gauge({
    name: 'anxin_store_failing', help: '1 while the embedded store cannot write (no reading is acknowledged and no alert can be raised), else 0', registers: [this.registry],
  });
  readonly rulesErrors = new Counter({
    name: 'anxin_rules_errors_total', help: 'Batches of readings stored whose rules evaluation failed (a bug: page someone)', registers: [this.registry],
  });
  readonly streamPushFailures = new Counter({
    name: 'anxin_stream_push_failures_total', help: 'Commits whose events a live-stream listener failed to take (screens may have missed them: a bug, page someone)', registers: [this.registry],
  });
  readonly streamClientsClosed = new Counter({
    name: 'anxin_stream_clients_closed_total', help: 'Dashboard stream sockets the hub closed so that they reconnect and resume, by reason: slow, replay_stalled, send_failed, replay_failed',
    labelNames: ['reason'] as const, registers: [this.registry],
  });
  readonly streamResyncs = new Counter({
    name: 'anxin_stream_resyncs_total', help: 'Resuming dashboards told to reload their lists instead of a replay, by reason: pruned, too_far_behind',
    labelNames: ['reason'] as const, registers: [this.registry],
  });
  readonly streamReplayEvents = new Counter({
    name: 'anxin_stream_replay_events_total', help: 'Events read from the durable log to replay to resuming dashboards (rows that left SQLite)', registers: [this.registry],
  });
  readonly loginFailures = new Counter({
    name: 'anxin_login_failures_total', help: 'Failed web sign-ins', registers: [this.registry],
  });
  readonly loginRateLimited = new Counter({
    name: 'anxin_login_rate_limited_total', help: 'Web sign-ins refused (429) after too many failures, by scope: address or username',
    labelNames: ['scope'] as const, registers: [this.registry],
  });

  private influxLagSource: (() => number) | null = null;
  readonly influxLag = new Gauge({
    name: 'anxin_influx_lag_readings', help: 'Readings in the journal not yet confirmed by InfluxDB (journal seq − forwarder cursor; read at each scrape)',
    registers: [this.registry],
    collect: () => {
      if (this.influxLagSource) this.influxLag.set(this.influxLagSource());
    },
  });
  readonly influxPointsWritten = new Counter({
    name: 'anxin_influx_points_written_total', help: 'Readings InfluxDB confirmed (replays after a crash count again)', registers: [this.registry],
  });
  readonly influxPointsRefused = new Counter({
    name: 'anxin_influx_points_refused_total', help: 'Points InfluxDB refused for good (outside retention, type conflict); they stay in the journal', registers: [this.registry],
  });
  readonly influxWriteErrors = new Counter({
    name: 'anxin_influx_write_errors_total', help: 'Failed InfluxDB writes and set-ups, retried with backoff', registers: [this.registry],
  });
  readonly influxWriteLatency = new Histogram({
    name: 'anxin_influx_write_seconds', help: 'Duration of one confirmed batch write to InfluxDB',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
  });
  readonly influxForwarderUp = new Gauge({
    name: 'anxin_influx_forwarder_up', help: 'Whether the InfluxDB forwarder thread is running (0 while it starts or after it died, until restarted)', registers: [this.registry],
  });
  readonly influxQueryFallbacks = new Counter({
    name: 'anxin_influx_query_fallbacks_total', help: 'Readings queries answered from the journal because InfluxDB failed', registers: [this.registry],
  });

  readonly tlsCertificateExpiry = new Gauge({
    name: 'anxin_tls_certificate_expiry_timestamp_seconds',
    help: 'When the TLS certificate served (MQTT over TLS and HTTPS: the same files) expires (set at start and on each reload; absent without TLS): alert well before it',
    registers: [this.registry],
  });

  readonly journalRowsPruned = new Counter({
    name: 'anxin_journal_rows_pruned_total', help: 'Readings journal rows deleted by the opt-in retention, by policy (heartbeat, readings)',
    labelNames: ['policy'] as const, registers: [this.registry],
  });
  private journalRetentionSource: (() => JournalRetentionPositions) | null = null;
  readonly journalRetentionBehind = new Gauge({
    name: 'anxin_journal_retention_behind_seconds',
    help: 'How much older than its retention the oldest row a policy has not judged yet is (0: caught up; grows while InfluxDB holds pruning back); read at each scrape',
    labelNames: ['policy'] as const, registers: [this.registry],
    collect: () => {
      if (!this.journalRetentionSource) return;
      for (const b of this.journalRetentionSource().behind) this.journalRetentionBehind.set({ policy: b.policy }, b.seconds);
    },
  });
  readonly journalOldestRow = new Gauge({
    name: 'anxin_journal_oldest_row_timestamp_seconds', help: 'When the hub received the oldest row left in the readings journal (with retention on; read at each scrape)',
    registers: [this.registry],
    collect: () => {
      const oldest = this.journalRetentionSource?.().oldestReceivedAt;
      if (oldest !== undefined && oldest !== null) this.journalOldestRow.set(oldest / 1000);
    },
  });

  /** Where the journal retention gauges read from (server/store/journalRetention.ts). */
  watchJournalRetention(source: () => JournalRetentionPositions): void {
    this.journalRetentionSource = source;
  }

  private notificationsPendingSource: (() => number) | null = null;
  readonly notificationsPending = new Gauge({
    name: 'anxin_notifications_pending', help: 'Notifications not yet settled: still being tried within their retry budget (read at each scrape)',
    registers: [this.registry],
    collect: () => {
      if (this.notificationsPendingSource) this.notificationsPending.set(this.notificationsPendingSource());
    },
  });
  readonly notificationsSettled = new Counter({
    name: 'anxin_notifications_settled_total',
    help: 'Notifications settled, by channel and outcome: delivered; failed (refused, or retried for the whole budget); undeliverable (no address or no real channel: nobody told)',
    labelNames: ['channel', 'outcome'] as const, registers: [this.registry],
  });
  readonly doctorsUnreachable = new Counter({
    name: 'anxin_escalations_doctor_unreachable_total', help: 'Escalations whose doctor no channel reached (the call center is told to phone them)', registers: [this.registry],
  });

  /** Where `anxin_notifications_pending` reads the count from (the delivery queue). */
  watchNotifications(pending: () => number): void {
    this.notificationsPendingSource = pending;
  }

  private openAlerts: (() => ReadonlyArray<{ severity: string; state: string }>) | null = null;
  readonly alertsOpen = new Gauge({
    name: 'anxin_alerts_open', help: 'Unresolved alerts, by severity and state (read at each scrape)', labelNames: ['severity', 'state'] as const,
    registers: [this.registry],
    collect: () => {
      if (!this.openAlerts) return;
      this.alertsOpen.reset();
      for (const a of this.openAlerts()) this.alertsOpen.inc({ severity: a.severity, state: a.state });
    },
  });

  /** Where `anxin_alerts_open` reads the unresolved alerts from (the Grafana operations dashboard shows them). */
  watchOpenAlerts(source: () => ReadonlyArray<{ severity: string; state: string }>): void {
    this.openAlerts = source;
  }

  /** Where `anxin_influx_lag_readings` reads the lag from (the forwarder's record of its cursor). */
  watchInfluxLag(source: () => number): void {
    this.influxLagSource = source;
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'anxin_' });
  }
}

/** What the journal retention reports at a scrape: per policy, how far behind it is; the oldest row's arrival (epoch ms). */
export interface JournalRetentionPositions {
  behind: ReadonlyArray<{ policy: string; seconds: number }>;
  oldestReceivedAt: number | null;
}

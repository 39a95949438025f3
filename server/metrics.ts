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
  readonly storeCommitLatency = new Histogram({
    name: 'anxin_store_commit_seconds', help: 'Duration of one group commit of the embedded store',
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5], registers: [this.registry],
  });
  readonly storeCommitSize = new Histogram({
    name: 'anxin_store_commit_jobs', help: 'Writes committed together in one transaction',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000], registers: [this.registry],
  });
  readonly rulesErrors = new Counter({
    name: 'anxin_rules_errors_total', help: 'Batches of readings stored whose rules evaluation failed (a bug: page someone)', registers: [this.registry],
  });
  readonly loginFailures = new Counter({
    name: 'anxin_login_failures_total', help: 'Failed web sign-ins', registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'anxin_' });
  }
}

/**
 * Test helpers for notification delivery: a real HTTP receiver on loopback
 * that verifies signatures the way a customer's receiver would, a fresh store
 * with the notify schema, and a logger whose lines the test can read.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { DeliveryQueue, NOTIFY_MIGRATION } from '../../../server/notify/deliveryQueue.js';
import type { Notification, Notifier } from '../../../server/notify/notifier.js';
import { verifyWebhookSignature } from '../../../server/notify/webhookNotifier.js';
import { openDatabase, type Db } from '../../../server/store/sqliteDb.js';

export const SECRET = 'test-webhook-secret-0123456789';

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: string;
  /** `verifyWebhookSignature` with the right secret, on the receiver's side. */
  verified: boolean;
  status: number | 'hang';
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Requests answered 2xx, counted once per delivery id (what a deduping receiver acts on). */
  acknowledged: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Answers each request with the next entry of `script` (the last one repeats);
 * `'hang'` never answers, to provoke a timeout.
 */
export async function startReceiver(script: Array<number | 'hang'>): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const acknowledged = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const status = script[Math.min(requests.length, script.length - 1)]!;
      const verified = verifyWebhookSignature(SECRET, req.headers['x-anxin-timestamp'], body, req.headers['x-anxin-signature']);
      requests.push({ headers: req.headers, body, verified, status });
      if (status === 'hang') return;
      if (status >= 200 && status < 300 && verified) {
        const id = req.headers['x-anxin-delivery'] as string;
        acknowledged.set(id, (acknowledged.get(id) ?? 0) + 1);
      }
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/anxin/hook`,
    requests,
    acknowledged,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export interface TestStore {
  dir: string;
  db: Db;
  reopen(): Db;
  destroy(): void;
}

/** A fresh SQLite store with the notify tables (skipped once they are part of MIGRATIONS). */
export function tempStore(): TestStore {
  const dir = mkdtempSync(join(tmpdir(), 'anxin-notify-'));
  const open = (): Db => {
    const db = openDatabase(dir);
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notifications'").get()) db.exec(NOTIFY_MIGRATION);
    return db;
  };
  const store: TestStore = {
    dir,
    db: open(),
    reopen() {
      if (store.db.open) store.db.close();
      store.db = open();
      return store.db;
    },
    destroy() {
      if (store.db.open) store.db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return store;
}

/** A logger that keeps its JSON lines for assertions. */
export function captureLog(level = 'debug'): { log: Logger; lines: Array<Record<string, unknown>>; text: () => string } {
  const raw: string[] = [];
  const log = pino({ level }, { write: (s: string) => void raw.push(s) });
  return {
    log,
    get lines() {
      return raw.map((s) => JSON.parse(s) as Record<string, unknown>);
    },
    text: () => raw.join(''),
  };
}

let seq = 0;

/** A doctor-escalation notification whose title and body carry vitals, as real ones do. */
export function sampleNotification(over: Partial<Notification> = {}): Notification {
  seq += 1;
  return {
    id: `ntf-${process.pid}-${seq}`,
    alertId: 'al-0001',
    kind: 'escalation.doctor',
    recipient: { username: 'dr-li', name: '李医生', phone: '+86 138 0000 0001' },
    title: { 'zh-CN': '血压危象 186/98 mmHg', en: 'Hypertensive crisis 186/98 mmHg' },
    body: { 'zh-CN': '王秀英，威海市环翠区，请尽快处理', en: 'Wang Xiuying, Huancui, Weihai: please review' },
    payload: { alertId: 'al-0001', rule: 'bp_crisis', severity: 'critical' },
    ...over,
  };
}

/**
 * A started delivery queue on a temp store with fast retries (10–50 ms), sending through `sms`;
 * its closing goes on `closers` (the test file's afterEach runs them).
 */
export function smsQueue(sms: Notifier, closers: Array<() => Promise<void> | void>): { queue: DeliveryQueue; store: TestStore; logs: ReturnType<typeof captureLog> } {
  const store = tempStore();
  const logs = captureLog();
  const queue = new DeliveryQueue(store.db, { sms }, { log: logs.log, baseDelayMs: 10, maxDelayMs: 50 });
  closers.push(() => store.destroy(), () => queue.stop());
  queue.start();
  return { queue, store, logs };
}

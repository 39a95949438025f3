/**
 * The live stream's retention (SPEC §6): events older than the retention are
 * pruned, and a screen resuming from before a pruned event is told `resync`
 * (reload your lists), even when nothing older is left in the log at all; a
 * screen that missed nothing pruned is not.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../../helpers/hub.js';
import { bp, eventsOf, MINUTE, send, startAlertHub, StreamClient, type AlertHub, type StreamMessage } from './helpers.js';

let h: AlertHub;
let cuff: MqttClient;
let token: string;
const HOUR = 60 * MINUTE;

beforeAll(async () => {
  h = await startAlertHub();
  cuff = await h.connect('bp-0001');
  token = h.tokens['op-zhang']!;
});

afterAll(() => h?.close());

/** Opens a stream, resumes from `after`, and answers every message up to `resumed`. */
async function resumeFrom(after: number): Promise<StreamMessage[]> {
  const stream = await StreamClient.open(h.t, token);
  await stream.next((m) => m.type === 'hello');
  stream.send({ resume: after });
  await stream.next((m) => m.type === 'resumed', 'resumed');
  stream.close();
  return stream.messages;
}

describe('stream retention', () => {
  it('replays a young log from the start without a resync', async () => {
    await send(cuff, 'wh-0001', 'bp-0001', bp(184, 96), h.clock.now());
    await h.t.hub.ctx.writer.drain();
    const messages = await resumeFrom(0);
    expect(messages.map((m) => m.type)).not.toContain('resync');
    expect(eventsOf(messages).map((e) => e.type)).toEqual(expect.arrayContaining(['device.status', 'reading', 'alert.created']));
  });

  it('after pruning, tells a screen that missed a pruned event to resync, and one that missed nothing pruned not', async () => {
    const { eventLog, writer } = h.t.hub.ctx;
    const before = eventLog.latestSeq(); // a screen that saw everything so far
    h.clock.advance(25 * HOUR);
    // A day later the operator signs in again (sessions expire on the hub's clock).
    token = await login(h.t.hub, 'op-zhang', h.answer.users.find((u) => u.username === 'op-zhang')!.password);
    await send(cuff, 'wh-0001', 'bp-0001', bp(121, 79), h.clock.now());
    await writer.drain();
    // Every event but the last reading's is now older than 24 h: the whole events table goes.
    const removed = await writer.run(() => eventLog.prune(h.clock.now() - 24 * HOUR));
    expect(removed).toBeGreaterThan(0);
    expect(h.t.hub.ctx.db.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 0 });
    expect(eventLog.prunedThrough()).toBeGreaterThan(0);
    expect(eventLog.prunedThrough()).toBeLessThanOrEqual(before);

    const fromStart = await resumeFrom(0);
    expect(fromStart.find((m) => m.type === 'resync')).toMatchObject({ oldestSeq: eventLog.prunedThrough() + 1 });
    const upToDate = await resumeFrom(before);
    expect(upToDate.map((m) => m.type)).not.toContain('resync');
    // What it missed since is still replayed: the reading after the pause.
    expect(eventsOf(upToDate).map((e) => e.type)).toEqual(['reading']);
  });

  it('keeps the boundary across a restart of the store', async () => {
    const through = h.t.hub.ctx.eventLog.prunedThrough();
    expect(h.t.hub.ctx.db.prepare('SELECT through_seq AS s FROM stream_pruned').get()).toEqual({ s: through });
  });
});

/**
 * A dashboard resuming its stream while the journal's retention commits a
 * chunk (on the writer thread's own connection) between the hub's reads:
 * a reading event it had not seen was neither replayed nor announced, so its
 * lists silently missed it. It must be told to reload them (`resync`). The
 * chunk's commit is made to land exactly between the hub's reads by doing it
 * from the first replay read; everything else is the real hub, MQTT and
 * WebSocket.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bp, send, startAlertHub, StreamClient, type AlertHub } from './helpers.js';

let h: AlertHub;

beforeAll(async () => {
  h = await startAlertHub();
});
afterAll(() => h?.close());

it('tells a resuming screen to reload its lists when a reading it had not seen is pruned during the replay', async () => {
  const cuff = await h.connect('bp-0001');
  await send(cuff, 'wh-0001', 'bp-0001', bp(128, 82, { id: 'first' }), h.clock.now());
  await send(cuff, 'wh-0001', 'bp-0001', bp(126, 80, { id: 'second' }), h.clock.now());
  const { db, eventLog } = h.t.hub.ctx;
  const seqOf = (id: string) => db.prepare('SELECT stream_seq FROM readings WHERE reading_id = ?').pluck().get(id) as number;
  const [first, second] = [seqOf('first'), seqOf('second')];
  expect(second).toBeGreaterThan(first);

  // What a retention chunk commits: the row goes, and stream_pruned says how far.
  const since = eventLog.since.bind(eventLog);
  let pruned = false;
  eventLog.since = (seq, limit) => {
    if (!pruned) {
      pruned = true;
      db.prepare('DELETE FROM readings WHERE stream_seq = ?').run(first);
      db.prepare('UPDATE stream_pruned SET through_seq = max(through_seq, ?) WHERE id = 1').run(first);
    }
    return since(seq, limit);
  };
  try {
    const stream = await StreamClient.open(h.t, h.tokens['op-zhang']!);
    await stream.next((m) => m.type === 'hello');
    stream.send({ resume: first - 1 });
    await stream.next((m) => m.type === 'resumed', 'the end of the replay');
    const replay = stream.messages.filter((m) => m.type !== 'hello');
    // The second reading is replayed; the first is gone, and the screen is told to reload.
    expect(replay.filter((m) => m.type === 'reading').map((m) => m.seq)).toEqual([second]);
    expect(replay.find((m) => m.type === 'resync')).toMatchObject({ oldestSeq: first + 1 });
    stream.close();
  } finally {
    eventLog.since = since;
  }
});

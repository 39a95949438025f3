/** A device enrolled by another process (the CLI) on the same data dir can publish at once. */
import { afterAll, expect, it } from 'vitest';
import { importDocument } from '../../../server/import/importer.js';
import { openDatabase } from '../../../server/store/sqliteDb.js';
import { connectClient, exampleDocument, publishAcked, startTestHub, type TestHub } from '../../helpers/hub.js';

let t: TestHub;
afterAll(() => t?.destroy());

it('sees a directory change committed by another connection without a restart', async () => {
  t = await startTestHub();
  const cli = openDatabase(t.dataDir);
  const answer = await importDocument(cli, exampleDocument(), { actor: 'cli' });
  cli.close();
  const secret = answer.credentials.find((c) => c.username === 'bp-0001')!.password;
  const client = await connectClient(t.mqttUrl, 'bp-0001', secret);
  await publishAcked(client, 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry', { type: 'blood_pressure', id: 'cli-1', ts: Date.now(), systolic: 120, diastolic: 80, unit: 'mmHg' });
  client.end(true);
  expect(t.hub.ctx.db.prepare("SELECT resident_id FROM readings WHERE reading_id = 'cli-1'").get()).toEqual({ resident_id: 'r-0001' });
});

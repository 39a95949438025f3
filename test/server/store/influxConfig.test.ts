/**
 * Which InfluxDB, if any: decided by which variables are set (SPEC §7), with a
 * clear error for both versions at once or a partial set. Without one, the
 * embedded store answers everything, aggregation windows included.
 */
import { describe, expect, it } from 'vitest';
import { connectClient, exampleDocument, login, publishAcked, secretOf, startTestHub } from '../../helpers/hub.js';
import { ConfigError, loadConfig } from '../../../server/config.js';
import { describeTarget, influxTarget } from '../../../server/store/influxTarget.js';

const URL_ = 'http://127.0.0.1:8086';

describe('InfluxDB configuration', () => {
  it('is off by default: the embedded store only', () => {
    expect(influxTarget(loadConfig({}))).toBeNull();
  });

  it('is 1.x with ANXIN_INFLUX_DB, credentials taken from the URL and kept out of its description', () => {
    const t = influxTarget(loadConfig({ ANXIN_INFLUX_URL: 'http://anxin:p%40ss@influx.local:8086/', ANXIN_INFLUX_DB: 'anxin' }));
    expect(t).toMatchObject({ version: 1, database: 'anxin', username: 'anxin', password: 'p@ss' });
    expect(describeTarget(t!)).toBe('influx1 http://influx.local:8086 db=anxin');
  });

  it('is 2.x with org, bucket and token', () => {
    const t = influxTarget(loadConfig({ ANXIN_INFLUX_URL: URL_, ANXIN_INFLUX_ORG: 'care', ANXIN_INFLUX_BUCKET: 'anxin', ANXIN_INFLUX_TOKEN: 'tok' }));
    expect(t).toMatchObject({ version: 2, org: 'care', bucket: 'anxin', token: 'tok' });
    expect(describeTarget(t!)).toBe('influx2 http://127.0.0.1:8086 org=care bucket=anxin');
  });

  it('reads batch size and flush interval', () => {
    expect(loadConfig({ ANXIN_INFLUX_BATCH_SIZE: '2000', ANXIN_INFLUX_FLUSH_MS: '250' })).toMatchObject({ influxBatchSize: 2000, influxFlushMs: 250 });
  });

  const refusals: Array<[string, Record<string, string>, RegExp]> = [
    ['a URL alone', { ANXIN_INFLUX_URL: URL_ }, /ANXIN_INFLUX_URL needs ANXIN_INFLUX_DB \(InfluxDB 1\.x\) or ANXIN_INFLUX_ORG, ANXIN_INFLUX_BUCKET, ANXIN_INFLUX_TOKEN \(InfluxDB 2\.x\)/],
    ['both versions', { ANXIN_INFLUX_URL: URL_, ANXIN_INFLUX_DB: 'anxin', ANXIN_INFLUX_TOKEN: 't' }, /both InfluxDB 1\.x \(ANXIN_INFLUX_DB\) and 2\.x \(ANXIN_INFLUX_TOKEN\)/],
    ['a partial 2.x set', { ANXIN_INFLUX_URL: URL_, ANXIN_INFLUX_ORG: 'care' }, /InfluxDB 2\.x needs .*; missing ANXIN_INFLUX_BUCKET, ANXIN_INFLUX_TOKEN/],
    ['a database without a URL', { ANXIN_INFLUX_DB: 'anxin' }, /ANXIN_INFLUX_DB set without ANXIN_INFLUX_URL/],
    ['a URL that is not one', { ANXIN_INFLUX_URL: 'influx.local:8086', ANXIN_INFLUX_DB: 'anxin' }, /ANXIN_INFLUX_URL ("influx.local:8086" is not a URL|must be an http)/],
    ['no URL at all', { ANXIN_INFLUX_URL: 'not a url', ANXIN_INFLUX_DB: 'anxin' }, /ANXIN_INFLUX_URL "not a url" is not a URL/],
    ['another scheme', { ANXIN_INFLUX_URL: 'udp://127.0.0.1:8089', ANXIN_INFLUX_DB: 'anxin' }, /ANXIN_INFLUX_URL must be an http:\/\/ or https:\/\/ URL/],
    ['a bad database name', { ANXIN_INFLUX_URL: URL_, ANXIN_INFLUX_DB: 'an xin;' }, /ANXIN_INFLUX_DB must be 1–64 letters/],
    ['credentials in a 2.x URL', { ANXIN_INFLUX_URL: 'http://u:p@h:8086', ANXIN_INFLUX_ORG: 'o', ANXIN_INFLUX_BUCKET: 'b', ANXIN_INFLUX_TOKEN: 't' }, /must not carry credentials/],
    ['a batch size of 0', { ANXIN_INFLUX_BATCH_SIZE: '0' }, /ANXIN_INFLUX_BATCH_SIZE must be >= 1/],
  ];
  it.each(refusals)('refuses %s, naming the variables', (_, env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('runs without InfluxDB by default, the journal answering windows (`every`) too', async () => {
    const t = await startTestHub();
    try {
      expect(t.hub.ctx.timeSeries).toBeNull();
      const answer = await t.importDoc(exampleDocument());
      const bp = await connectClient(t.mqttUrl, 'bp-0001', secretOf(answer, 'bp-0001'));
      const hour = Math.floor(Date.now() / 3600_000) * 3600_000 - 2 * 3600_000;
      for (const [i, [ts, systolic]] of [[hour + 60_000, 120], [hour + 120_000, 130], [hour + 3600_000 + 5, 150]].entries()) {
        await publishAcked(bp, 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry', { type: 'blood_pressure', id: `w-${i}`, ts, systolic, diastolic: 80, unit: 'mmHg' });
      }
      bp.end(true);
      const token = await login(t.hub, 'dr-li', answer.users[0]!.password);
      const res = await t.hub.http.inject({ url: `/api/v1/residents/r-0001/readings?type=blood_pressure&every=1h&from=${hour}`, headers: { authorization: `Bearer ${token}` } });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        every: '1h',
        windows: [
          { start: new Date(hour).toISOString(), count: 2, values: { systolic: { min: 120, mean: 125, max: 130 }, diastolic: { min: 80, mean: 80, max: 80 } } },
          { start: new Date(hour + 3600_000).toISOString(), count: 1, values: { systolic: { min: 150, mean: 150, max: 150 }, diastolic: { min: 80, mean: 80, max: 80 } } },
        ],
      });
    } finally {
      await t.destroy();
    }
  });
});

/**
 * A district's bulk import (SPEC §6) runs beside the monitoring of the homes
 * already enrolled: while a hub imports 3,000 homes, a device's readings keep
 * being acknowledged, instead of all waiting until the import has answered.
 * Real hub, real MQTT client, the import through the API.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectClient, secretOf, startTestHub, type TestHub } from '../../helpers/hub.js';

let t: TestHub;
let secret: string;

/** `n` homes shaped like SPEC §6's example: two residents, a gateway, five devices. */
function district(n: number) {
  return {
    homes: Array.from({ length: n }, (_, i) => {
      const s = String(i).padStart(5, '0');
      return {
        id: `h-${s}`, address: `环翠区 ${s} 号`,
        residents: [{ id: `r-${s}-a`, name: '王秀英', doctor: 'dr-li', targets: { bp_high: { systolic: 170 } } }, { id: `r-${s}-b`, name: '李建国' }],
        gateway: { id: `gw-${s}` },
        devices: [
          { id: `bp-${s}`, type: 'bp_cuff', resident: `r-${s}-a` },
          { id: `glu-${s}`, type: 'glucose_meter', resident: `r-${s}-a` },
          { id: `fall-${s}`, type: 'fall_sensor' },
          { id: `sos-${s}`, type: 'sos_button', resident: `r-${s}-b` },
          { id: `pir-${s}`, type: 'motion_sensor' },
        ],
      };
    }),
  };
}

beforeAll(async () => {
  t = await startTestHub();
  const answer = await t.importDoc({
    homes: [{ id: 'wh-0001', address: '威海市环翠区文化西路 1 号', residents: [{ id: 'r-0001', name: '张桂芳' }], devices: [{ id: 'bp-0001', type: 'bp_cuff', resident: 'r-0001' }] }],
    users: [{ username: 'dr-li', role: 'doctor' }],
  });
  secret = secretOf(answer, 'bp-0001');
});

afterAll(() => t?.destroy());

it('readings keep being acknowledged while 3,000 homes are imported', async () => {
  const cuff = await connectClient(t.mqttUrl, 'bp-0001', secret);
  const acked: number[] = [];
  let n = 0;
  const publisher = setInterval(() => {
    const reading = { type: 'blood_pressure', id: `rd-${++n}`, ts: Date.now(), systolic: 126, diastolic: 80, unit: 'mmHg' };
    cuff.publish('anxin/v1/homes/wh-0001/devices/bp-0001/telemetry', JSON.stringify(reading), { qos: 1 }, (err) => {
      if (!err) acked.push(performance.now());
    });
  }, 2);
  try {
    const payload = district(3000);
    const headers = { authorization: `Bearer ${await t.adminToken()}` };
    await new Promise((r) => setTimeout(r, 200));
    const started = performance.now();
    const res = await t.hub.http.inject({ method: 'POST', url: '/api/v1/import', headers, payload });
    const answered = performance.now();
    expect(res.statusCode).toBe(200);
    expect(res.json().created).toMatchObject({ homes: 3000, devices: 15000 });
    const during = acked.filter((at) => at > started && at < answered);
    // Before, every step of the import ran in one turn of the event loop: no PUBACK until it answered.
    expect(during.length).toBeGreaterThanOrEqual(5);
  } finally {
    clearInterval(publisher);
    await cuff.endAsync();
  }
});

/**
 * A doctor's webhook URL is checked at import by the rule the webhook notifier
 * applies (https, or plain http on loopback only): the audit found `http://`
 * URLs accepted here and refused at every escalation. Real hub, real import API.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { exampleDocument, startTestHub, type TestHub } from '../../helpers/hub.js';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(() => t?.destroy());

const importWith = async (webhookUrl: string) => {
  const doc = exampleDocument();
  const i = doc.users.findIndex((u) => u.username === 'dr-li');
  Object.assign(doc.users[i]!, { webhookUrl });
  const res = await t.hub.http.inject({ method: 'POST', url: '/api/v1/import', headers: { authorization: `Bearer ${await t.adminToken()}` }, payload: doc });
  return { i, status: res.statusCode, body: res.json() };
};

it.each([
  ['http://clinic.example.org/anxin-hook', 'plain http webhook URL refused (health data); use https'],
  ['http://10.0.0.5/hook', 'plain http webhook URL refused (health data); use https'],
])('refuses %s, naming its JSON path', async (url, message) => {
  const { i, status, body } = await importWith(url);
  expect(status).toBe(400);
  expect(body.errors).toEqual([{ path: `/users/${i}/webhookUrl`, message }]);
});

it.each(['https://clinic.example.org/anxin-hook', 'http://127.0.0.1:8099/hook', 'http://localhost/hook'])('accepts %s', async (url) => {
  const { status } = await importWith(url);
  expect(status).toBe(200);
});

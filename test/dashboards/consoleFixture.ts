/**
 * An operator at the console of a real hub, shift started (the alarm can
 * sound), with the example home's gateway connected to send readings: what
 * the console's alarm tests set up. `rules` goes into a rules file (e.g.
 * shortened claim windows).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { connectClient, exampleDocument, secretOf, startTestHub, tempDataDir, type TestHub } from '../helpers/hub.js';
import { launchBrowser, signIn, waitForBody } from './browser.js';

export interface OperatorConsole {
  t: TestHub;
  gateway: MqttClient;
  op: Page;
  close(): Promise<void>;
}

export async function startOperatorConsole(opts: { rules?: object; tickMs?: number } = {}): Promise<OperatorConsole> {
  const dataDir = tempDataDir();
  let rulesFile: string | undefined;
  if (opts.rules) {
    rulesFile = join(dataDir, 'rules.json');
    writeFileSync(rulesFile, JSON.stringify(opts.rules));
  }
  const t = await startTestHub({ dataDir, config: { loginPerMinute: 100, ...(rulesFile && { rulesFile }), ...(opts.tickMs && { tickMs: opts.tickMs }) } });
  let gateway: MqttClient | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    gateway?.end(true);
    await browser?.close();
    await t.destroy();
  };
  try {
    const doc = exampleDocument();
    doc.users.push({ username: 'op-1', role: 'operator', name: '坐席一' });
    const answer = await t.importDoc(doc);
    const password = answer.users.find((u) => u.username === 'op-1')!.password;
    gateway = await connectClient(t.mqttUrl, 'gw-0001', secretOf(answer, 'gw-0001'));
    browser = await launchBrowser();
    const op = await signIn(browser, `http://127.0.0.1:${t.hub.httpPort}`, 'op-1', password);
    await waitForBody(op, 'conn', 'connected');
    await op.locator('[data-testid="start-shift"]').click(); // sound is off until the shift starts
    await waitForBody(op, 'audio', 'unlocked');
    return { t, gateway, op, close };
  } catch (err) {
    await close();
    throw err;
  }
}

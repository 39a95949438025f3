/** The demo's plumbing: the runner's timing, the JSON-lines feeder, and the relay that plays a network loss. */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildDemoDistrict } from '../../../devices/simulators/demoDistrict.js';
import { HomeSimulator } from '../../../devices/simulators/homeSimulator.js';
import { LineFeeder, type LineAnswer } from '../../../devices/simulators/lineFeeder.js';
import { SimClock } from '../../../devices/simulators/simClock.js';
import { SimulationRunner } from '../../../devices/simulators/simulationRunner.js';
import { UplinkRelay } from '../../../devices/simulators/uplinkRelay.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(onSocket: (s: Socket) => void): Promise<number> {
  const server = createServer(onSocket);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

describe('SimulationRunner', () => {
  it('sends each event when its wall time comes, in order, and acts on the uplink', async () => {
    const home = buildDemoDistrict('runner', 1).homes[0]!.layout;
    const start = Date.parse('2025-03-10T10:00:00+08:00');
    const sim = new HomeSimulator(home, { clock: new SimClock({ wallStart: start, scale: 60 }), seed: 'runner' });
    sim.schedule('gateway_network_loss', start + 20_000, { outageMinutes: 1 });
    sim.schedule('sos', start + 30_000);
    let now = start;
    const sent: Array<{ at: number; line: Record<string, unknown> }> = [];
    const uplink: Array<[string, number]> = [];
    const runner = new SimulationRunner([{
      sim,
      channel: {
        send: async (line) => {
          sent.push({ at: now, line: line as Record<string, unknown> });
          return { ok: true, id: String(sent.length) } satisfies LineAnswer;
        },
        uplink: (action) => uplink.push([action, now - start]),
      },
    }], { now: () => now });
    for (; now <= start + 120_000; now += 250) runner.tick();
    await runner.stop();
    expect(uplink).toEqual([['cut', 20_000], ['restore', 80_000]]);
    const sos = sent.find((s) => s.line.type === 'sos')!;
    expect(sos.at).toBe(start + 30_000);
    expect(Date.parse(sos.line.ts as string)).toBe(start + 30_000);
    expect(runner.stats).toMatchObject({ sent: sent.length, accepted: sent.length, refused: 0, failed: 0 });
    expect(sent.every((s) => Date.parse((s.line.ts as string | undefined) ?? new Date(s.at).toISOString()) <= s.at)).toBe(true);
  });
});

describe('LineFeeder', () => {
  it('resolves each line with its own answer, in order, and fails pending lines when the input closes', async () => {
    const port = await listen((socket) => {
      let buffered = '';
      socket.on('data', (d) => {
        buffered += d;
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const l of lines) {
          const doc = JSON.parse(l) as { device: string; n: number };
          if (doc.n === 99) socket.destroy();
          else socket.write(`${JSON.stringify(doc.n % 2 ? { ok: false, error: 'out_of_range', detail: String(doc.n) } : { ok: true, id: String(doc.n) })}\n`);
        }
      });
    });
    const feeder = new LineFeeder(port);
    const answers = await Promise.all([0, 1, 2, 3].map((n) => feeder.send({ device: 'bp-0001', n })));
    expect(answers).toEqual([{ ok: true, id: '0' }, { ok: false, error: 'out_of_range', detail: '1' }, { ok: true, id: '2' }, { ok: false, error: 'out_of_range', detail: '3' }]);
    await expect(feeder.send({ device: 'bp-0001', n: 99 })).rejects.toThrow(/closed/);
    expect(await feeder.send({ device: 'bp-0001', n: 4 })).toEqual({ ok: true, id: '4' });
    feeder.close();
    await expect(feeder.send({ device: 'bp-0001', n: 6 })).rejects.toThrow(/closed/);
  });
});

describe('UplinkRelay', () => {
  const echo = () => listen((s) => s.pipe(s));
  const roundTrip = (port: number, text: string) => new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => {
      got += d;
      if (got.length >= text.length) {
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.write(text);
  });

  it('relays, drops every connection when cut, refuses new ones until restored', async () => {
    const relay = new UplinkRelay({ host: '127.0.0.1', port: await echo() });
    await relay.start();
    expect(await roundTrip(relay.port, 'hello')).toBe('hello');
    const open = connect(relay.port, '127.0.0.1');
    await new Promise((r) => open.once('connect', r));
    const closed = new Promise((r) => open.once('close', r));
    relay.cut();
    await closed;
    expect(relay.isCut).toBe(true);
    expect(await roundTrip(relay.port, 'lost')).toBe('');
    relay.restore();
    expect(await roundTrip(relay.port, 'back')).toBe('back');
    await relay.stop();
  });
});

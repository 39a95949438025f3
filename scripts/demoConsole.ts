/** What `npm run demo` prints: the sign-in table, the incident plan, and each incident as it happens. */
import type { DemoDistrict } from '../devices/simulators/demoDistrict.js';
import type { TimelineEntry } from '../devices/simulators/demoTimeline.js';
import type { SimEvent } from '../devices/simulators/homeSimulator.js';
import { SCENARIO_ALERTS, scenarioResident } from '../devices/simulators/scenarios.js';
import { localHhmm } from '../devices/simulators/simClock.js';
import type { RunnerReport } from '../devices/simulators/simulationRunner.js';

export function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** `mm:ss` (or `h:mm:ss`) since `start`. */
export function elapsed(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const mmss = `${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mmss}` : mmss;
}

const pad = (text: string, width: number) => text + ' '.repeat(Math.max(0, width - displayWidth(text)));
/** CJK characters take two columns in a terminal. */
const displayWidth = (text: string) => [...text].reduce((w, c) => w + (/[\u2E80-\uFFEF]/.test(c) ? 2 : 1), 0);

export interface SignIn { role: string; username: string; name: string; password: string | undefined; note?: string }

export function printSignIn(dashboard: string, rows: readonly SignIn[], credentialsFile: string): void {
  say();
  say(`  ┌─ Dashboard: ${dashboard}`);
  say(`  │  Sign in as (passwords are shown once here; a copy is in ${credentialsFile}):`);
  say(`  │    ${pad('role', 12)}${pad('username', 10)}${pad('name', 10)}password`);
  for (const r of rows) say(`  │    ${pad(r.role, 12)}${pad(r.username, 10)}${pad(r.name, 10)}${r.password ?? '(unchanged from the first run)'}${r.note ? `   ${r.note}` : ''}`);
  say('  └─');
}

export function printPatients(district: DemoDistrict): void {
  const byDoctor = new Map<string, string[]>();
  for (const h of district.homes) {
    for (const r of h.layout.residents) byDoctor.set(h.doctors[r.id]!, [...(byDoctor.get(h.doctors[r.id]!) ?? []), r.name]);
  }
  say('  Family doctors and their patients:');
  for (const u of district.users.filter((x) => x.role === 'doctor')) {
    const names = byDoctor.get(u.username) ?? [];
    say(`    ${u.username} ${u.name}: ${names.length} patients (${names.slice(0, 6).join('、')}${names.length > 6 ? '…' : ''})`);
  }
}

export function printTimeline(district: DemoDistrict, timeline: readonly TimelineEntry[], shown: number): void {
  say('  What happens (time from now):');
  for (const t of timeline.slice(0, shown)) {
    const home = district.homes.find((h) => h.layout.homeId === t.homeId)!;
    const who = scenarioResident(home.layout, t.scenario).name;
    const alert = SCENARIO_ALERTS[t.scenario];
    say(`    ${elapsed(t.atSeconds * 1000)}  ${pad(t.scenario, 22)}${t.homeId} ${pad(who, 8)}${alert ? `→ ${alert.rule} (${alert.severity})` : '→ gateway offline, readings queue in its outbox'}`);
  }
  if (timeline.length > shown) say(`    … then a random incident every 5 minutes (${timeline.length - shown} planned)`);
}

/** One console line for an event worth telling, or a refusal; nothing for routine readings. */
export function describeEvent(report: RunnerReport, district: DemoDistrict, start: number): string | null {
  const { event, answer, error } = report;
  const where = placeOf(event, district);
  const at = `  ${elapsed(event.wallAt - start)} [sim ${localHhmm(event.at)}] ${where}`;
  if (error) return `${at}  could not reach the gateway's input: ${error.message}`;
  if (answer && !answer.ok) return `${at}  the gateway refused a line: ${answer.error} ${answer.detail}`;
  if (!event.note) return null;
  const alert = event.scenario ? SCENARIO_ALERTS[event.scenario] : null;
  const tag = event.scenario ? `  (${event.scenario}${alert && event.raises ? ` → ${alert.rule}, ${alert.severity}` : ''})` : '';
  return `${at}  ${event.note}${tag}`;
}

function placeOf(event: SimEvent, district: DemoDistrict): string {
  const home = district.homes.find((h) => h.layout.homeId === event.homeId);
  const resident = home?.layout.residents.find((r) => event.kind === 'line' && r.id === event.residentId) ?? home?.layout.residents[0];
  return `${event.homeId} ${pad(resident?.name ?? '', 8)}`;
}

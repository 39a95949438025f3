/**
 * The operator console's queue (dashboards/web/lib/queue.ts), as pure data:
 * the incremental QueueIndex gives the order, counts and alarm of the
 * reference functions (buildQueue, openBySeverity, needsAlarm) after any run
 * of changes, and its view draws the head of the queue with a tally of the
 * rest. No browser: these run in node.
 */
import { describe, expect, it } from 'vitest';
import {
  buildQueue, dominantRule, needsAlarm, openBySeverity, QueueIndex, queueOrder, severitiesOf, tally, type Incident,
} from '../../dashboards/web/lib/queue.js';
import type { Alert, AlertState, Severity } from '../../dashboards/web/lib/types.js';

const T0 = Date.parse('2026-03-01T08:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function alert(id: string, over: Partial<Alert> & { at?: number } = {}): Alert {
  const { at = T0, ...rest } = over;
  return {
    id, homeId: `h-${id}`, residentId: null, deviceId: null, rule: 'gateway_offline', severity: 'urgent', state: 'open',
    title: id, titles: { 'zh-CN': id, en: id }, explanation: { 'zh-CN': '', en: '' }, late: false, count: 1, lastReading: null,
    incidentId: `i-${id}`, createdAt: iso(at), updatedAt: iso(at), claimDeadline: iso(at + 600_000), overdue: false, overdueAt: null,
    conditionCleared: false, assignee: null, acknowledgedAt: null, escalation: null, resolvedAt: null, outcome: null,
    ...rest,
  };
}

const ids = (incidents: Incident[]) => incidents.map((i) => i.id);

describe('QueueIndex against the reference functions', () => {
  it('keeps the order, counts and alarm of buildQueue / openBySeverity / needsAlarm through random changes', () => {
    // A small deterministic generator: the same run every time.
    let seed = 42;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const severities: Severity[] = ['critical', 'urgent', 'warning', 'info'];
    const states: AlertState[] = ['open', 'acknowledged', 'escalated', 'resolved'];
    const index = new QueueIndex();
    const truth = new Map<string, Alert>();
    for (let step = 0; step < 3000; step++) {
      const id = `a${rnd(300)}`;
      const prev = truth.get(id);
      const at = T0 + step * 1000;
      const severity = severities[rnd(4)]!;
      const next = alert(id, {
        at: prev ? Date.parse(prev.createdAt) : at,
        updatedAt: iso(at),
        severity,
        rule: rnd(3) === 0 ? 'fall' : 'gateway_offline',
        state: prev?.state === 'resolved' ? 'resolved' : states[rnd(4)]!,
        // Several alerts to an incident, as one home's alerts within 10 minutes are.
        incidentId: `i${Number(id.slice(1)) % 120}`,
        homeId: `h${Number(id.slice(1)) % 120}`,
        overdue: rnd(10) === 0,
        claimDeadline: rnd(2) ? iso(at + rnd(20) * 1000) : null,
        escalation: rnd(8) === 0 ? { target: 'doctor', to: 'dr', at: iso(at), doctorAcknowledgedAt: null, delivery: { state: 'failed', reason: 'x', message: null, acknowledgedAt: null, acknowledgedBy: null } } : null,
      });
      truth.set(id, next);
      index.apply(next);
      if (step % 97 === 0) {
        const now = T0 + step * 1000 + rnd(15) * 1000;
        expect(ids(index.incidents())).toEqual(ids(buildQueue(truth.values())));
        expect(index.bySeverity).toEqual(openBySeverity(truth.values()));
        expect(index.alarm(now)).toBe(needsAlarm(truth.values(), now));
      }
    }
    expect(queueOrder(index.incidents()).map((a) => a.id)).toEqual(queueOrder(buildQueue(truth.values())).map((a) => a.id));
  });

  it('keeps the newer version of an alert (a late snapshot does not undo an event)', () => {
    const index = new QueueIndex();
    expect(index.apply(alert('a', { state: 'acknowledged', updatedAt: iso(T0 + 5000) }))).toBe(true);
    expect(index.apply(alert('a', { state: 'open', updatedAt: iso(T0) }))).toBe(false);
    expect(index.alerts.get('a')!.state).toBe('acknowledged');
  });

  it('a snapshot drops what it no longer has unless an event touched it since', () => {
    const index = new QueueIndex();
    for (const id of ['a', 'b', 'c']) index.apply(alert(id));
    index.replace([alert('a')], new Set(['c']));
    expect([...index.alerts.keys()].sort()).toEqual(['a', 'c']);
    expect(index.size).toBe(2);
  });
});

describe('the alarm from running totals', () => {
  it('sounds for an open critical alert, a passed claim deadline or an unreached doctor, and stops when they go', () => {
    const index = new QueueIndex();
    index.apply(alert('u', { claimDeadline: iso(T0 + 10_000) }));
    expect(index.alarm(T0 + 9_999)).toBe(false);
    expect(index.alarm(T0 + 10_000)).toBe(true);
    index.apply(alert('u', { state: 'acknowledged', claimDeadline: null, updatedAt: iso(T0 + 1) }));
    expect(index.alarm(T0 + 60_000)).toBe(false);
    index.apply(alert('c', { severity: 'critical' }));
    expect(index.alarm(T0)).toBe(true);
    index.apply(alert('c', { severity: 'critical', state: 'resolved', updatedAt: iso(T0 + 1) }));
    expect(index.alarm(T0)).toBe(false);
    expect(index.size).toBe(1);
  });
});

describe('the view: the head of the queue and a tally of the rest', () => {
  const flood = () => {
    const index = new QueueIndex();
    for (let i = 0; i < 1800; i++) index.apply(alert(`g${i}`, { at: T0 + i }));
    for (let i = 0; i < 30; i++) index.apply(alert(`w${i}`, { at: T0 + i, severity: 'warning', rule: 'bp_high' }));
    return index;
  };

  it('draws the first incidents and counts the others by severity and by rule', () => {
    const index = flood();
    const crisis = alert('crisis', { at: T0 + 99_000, severity: 'critical', rule: 'bp_crisis' });
    index.apply(crisis);
    const view = index.view(100, null);
    expect(view.drawn).toHaveLength(100);
    expect(view.drawn[0]!.alerts[0]!.id).toBe('crisis');
    expect(view.drawn[1]!.alerts[0]!.id).toBe('g0'); // then the oldest urgent
    expect(view.hidden.alerts).toBe(1731);
    expect(severitiesOf(view.hidden)).toEqual([['urgent', 1701], ['warning', 30]]);
    expect(dominantRule(view.hidden)).toEqual(['gateway_offline', 1701]);
    expect(view.pinned).toBeNull();
  });

  it('keeps the selected alert drawn (pinned, with its place) when it is further down', () => {
    const index = flood();
    const view = index.view(100, 'w3');
    expect(view.pinned).toMatchObject({ position: 1803, incident: { id: 'i-w3' } });
    expect(view.hidden.alerts).toBe(1830 - 101);
    expect(index.view(100, 'g5').pinned).toBeNull();
  });

  it('names no rule when none is most of the rest', () => {
    expect(dominantRule(tally([alert('a', { rule: 'fall' }), alert('b', { rule: 'sos' }), alert('c', { rule: 'bp_low' })]))).toBeNull();
  });
});

/**
 * What people do to alerts (SPEC §5): acknowledge, escalate to a doctor or to
 * 120, resolve, comment. Each action is checked by the lifecycle state machine
 * and applied inside a group-commit job, so it is serialized with the rules
 * engine and durable, with its history, before the caller hears "done".
 */
import type { Logger } from 'pino';
import type { DirectoryStore } from '../store/directoryStore.js';
import type { GroupCommit } from '../store/groupCommit.js';
import type { AlertEngine } from './alertEngine.js';
import type { Alert, AlertStore } from './alertStore.js';
import { decide, type Action, type Actor } from './lifecycle.js';

/** Who must hear about an escalation or a missed deadline; implemented over the delivery queue. */
export interface AlertNotifier {
  /** Called inside the escalation's job: what it stores commits with the escalation; if it throws, the escalation fails. */
  doctorEscalated(alert: Alert, doctor: string): void;
}

export type ActionResult =
  | { ok: true; alert: Alert }
  | { ok: false; status: 400 | 403 | 404 | 409; code: string; message: string };

export interface AlertServiceDeps {
  writer: GroupCommit;
  engine: AlertEngine;
  alerts: AlertStore;
  directory: DirectoryStore;
  notifier: AlertNotifier;
  log: Logger;
  now: () => number;
}

export class AlertService {
  constructor(private readonly deps: AlertServiceDeps) {}

  /** The alert by id: unresolved ones from the engine's memory, others from the store. */
  get(id: string): Alert | null {
    return this.deps.engine.findOpen(id) ?? this.deps.alerts.get(id);
  }

  act(alertId: string, action: Action, actor: Actor): Promise<ActionResult> {
    return this.deps.writer.run((): ActionResult => {
      const alert = this.get(alertId);
      if (!alert) return { ok: false, status: 404, code: 'not_found', message: `alert ${alertId} does not exist` };
      const decision = decide(alert, action, actor);
      if (!decision.ok) return decision;
      const at = this.deps.now();
      let next: Alert = { ...alert, updatedAt: at };
      if (action.kind === 'escalate' && action.target === 'doctor') {
        const doctor = this.doctorFor(alert);
        if (!doctor) return { ok: false, status: 409, code: 'no_doctor', message: 'no family doctor is registered for this resident or home' };
        next.escalatedTo = doctor;
      }
      const note = 'note' in action ? action.note?.trim() || null : null;
      for (const step of decision.steps) {
        next = apply(next, step.action, actor, action, at);
        this.deps.alerts.appendHistory(alert.id, {
          at, actor: actor.username, action: step.action, fromState: step.from, toState: step.to,
          note: step === decision.steps[decision.steps.length - 1] ? note : null,
          detail: action.kind === 'resolve' ? { outcome: action.outcome } : action.kind === 'escalate' ? { target: action.target, to: next.escalatedTo } : null,
        });
      }
      const stateChanged = next.state !== alert.state || next.escalationTarget !== alert.escalationTarget;
      this.deps.engine.store(next, decision.steps.map((s) => s.action).join(','), stateChanged);
      if (action.kind === 'escalate' && action.target === 'doctor') {
        const doctor = next.escalatedTo!;
        // In the escalation's own transaction: committed together, or (the notification not stored) not at
        // all, and the operator is told it failed. After the commit, a crash or a failed insert in between
        // left an alert escalated to a doctor nobody would ever tell.
        this.deps.notifier.doctorEscalated(next, doctor);
      }
      this.deps.log.info({ alertId, action: action.kind, actor: actor.username, state: next.state }, 'alert action');
      return { ok: true, alert: next };
    });
  }

  /** The resident's doctor; for a home-level alert, the one doctor of the home's residents. */
  private doctorFor(alert: Alert): string | null {
    const { directory } = this.deps;
    if (alert.residentId) return directory.residentInfo(alert.residentId)?.doctor ?? null;
    const doctors = new Set(directory.residents({ homeId: alert.homeId }).map((r) => r.doctor).filter((d): d is string => !!d));
    return doctors.size === 1 ? [...doctors][0]! : null;
  }
}

function apply(a: Alert, step: string, actor: Actor, action: Action, at: number): Alert {
  switch (step) {
    case 'acknowledged':
      return { ...a, state: 'acknowledged', assignee: actor.username, acknowledgedAt: at, claimDeadline: null };
    case 'doctor.acknowledged':
      return { ...a, doctorAcknowledgedAt: at };
    case 'escalated.doctor':
    case 'escalated.emergency':
      return {
        ...a, state: 'escalated', escalationTarget: step === 'escalated.doctor' ? 'doctor' : 'emergency', escalatedAt: at,
        escalatedTo: step === 'escalated.doctor' ? a.escalatedTo : a.escalatedTo ?? null,
        doctorAcknowledgedAt: step === 'escalated.doctor' ? null : a.doctorAcknowledgedAt,
        assignee: a.assignee ?? actor.username, acknowledgedAt: a.acknowledgedAt ?? at, claimDeadline: null,
      };
    case 'resolved':
      return { ...a, state: 'resolved', resolvedAt: at, outcome: action.kind === 'resolve' ? action.outcome : 'other', claimDeadline: null };
    default:
      return a;
  }
}

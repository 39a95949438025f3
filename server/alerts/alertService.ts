/**
 * What people do to alerts (SPEC §5): acknowledge, escalate to a doctor or to
 * 120, resolve, comment. Each action is checked by the lifecycle state machine
 * and applied inside a group-commit job, so it is serialized with the rules
 * engine and durable, with its history, before the caller hears "done".
 *
 * Whether an escalation reached its doctor is recorded on the alert too
 * (`doctor.notified`, `doctor.unreachable`, by `system`), and every alert this
 * service hands out carries it (`escalationDelivery`): a doctor nobody could
 * tell must be phoned by the call center, whose console sounds its alarm until
 * an operator acknowledges that (the `ack` action on an escalated alert).
 */
import type { Logger } from 'pino';
import type { Channel } from '../notify/notifier.js';
import type { DirectoryStore } from '../store/directoryStore.js';
import type { GroupCommit } from '../store/groupCommit.js';
import { isCallCenter } from '../store/userStore.js';
import type { AlertEngine } from './alertEngine.js';
import type { AlertWithDelivery, EscalationDelivery } from './alertPresenter.js';
import type { Alert, AlertStore } from './alertStore.js';
import { decide, type Action, type Actor } from './lifecycle.js';

/** Who must hear about an escalation or a missed deadline; implemented over the delivery queue. */
export interface AlertNotifier {
  /** Called inside the escalation's job: what it stores commits with the escalation; if it throws, the escalation fails. */
  /** `handedOverFrom`: the doctor it was escalated to before an admin moved the patient (the message says so). */
  doctorEscalated(alert: Alert, doctor: string, handedOverFrom?: string | null): void;
  /** Whether the alert's current doctor escalation reached the doctor; null when it is not escalated to one. */
  doctorDelivery(alert: Alert): Pick<EscalationDelivery, 'state' | 'reason' | 'message'> | null;
}

/** History actions of the doctor delivery (actor `system`, but the acknowledgement: the operator). */
export const DOCTOR_NOTIFIED = 'doctor.notified';
export const DOCTOR_UNREACHABLE = 'doctor.unreachable';
export const DOCTOR_UNREACHABLE_ACKNOWLEDGED = 'doctor.unreachable.acknowledged';

export type ActionResult =
  | { ok: true; alert: AlertWithDelivery }
  | { ok: false; status: 400 | 403 | 404 | 409; code: string; message: string };

export interface AlertServiceDeps {
  writer: GroupCommit;
  engine: AlertEngine;
  alerts: AlertStore;
  directory: DirectoryStore;
  notifier: AlertNotifier;
  /** Whether a user may sign in (enabled): a disabled doctor would be told of an escalation they cannot open. */
  canSignIn: (username: string) => boolean;
  log: Logger;
  now: () => number;
}

export class AlertService {
  constructor(private readonly deps: AlertServiceDeps) {}

  /** The alert by id, with its doctor delivery: unresolved ones from the engine's memory, others from the store. */
  get(id: string): AlertWithDelivery | null {
    const a = this.current(id);
    return a && this.withDelivery(a);
  }

  act(alertId: string, action: Action, actor: Actor): Promise<ActionResult> {
    return this.deps.writer.run((): ActionResult => {
      const alert = this.current(alertId);
      if (!alert) return { ok: false, status: 404, code: 'not_found', message: `alert ${alertId} does not exist` };
      const at = this.deps.now();
      if (action.kind === 'ack' && isCallCenter(actor.role) && alert.state === 'escalated') {
        const delivery = this.withDelivery(alert).escalationDelivery;
        if (delivery?.state === 'failed' && delivery.acknowledgedAt === null) return this.acknowledgeUnreachable(alert, actor, action.note?.trim() || null, at);
      }
      const decision = decide(alert, action, actor);
      if (!decision.ok) return decision;
      let next: Alert = { ...alert, updatedAt: at };
      if (action.kind === 'escalate' && action.target === 'doctor') {
        const doctor = this.doctorFor(alert);
        if (!doctor) return { ok: false, status: 409, code: 'no_doctor', message: 'no family doctor is registered for this resident or home' };
        // A doctor who left (disabled at once, before their residents were given another) would get a
        // message about an alert they can no longer open: the operator must know now, not from silence.
        if (!this.deps.canSignIn(doctor)) {
          return { ok: false, status: 409, code: 'doctor_disabled', message: `the family doctor ${doctor}'s account is disabled; call them or another doctor, or call 120, and have an admin assign another doctor` };
        }
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
      if (action.kind === 'escalate' && action.target === 'doctor') {
        const doctor = next.escalatedTo!;
        // In the escalation's own transaction: committed together, or (the notification not stored) not at
        // all, and the operator is told it failed. After the commit, a crash or a failed insert in between
        // left an alert escalated to a doctor nobody would ever tell.
        this.deps.notifier.doctorEscalated(next, doctor);
      }
      const stateChanged = next.state !== alert.state || next.escalationTarget !== alert.escalationTarget;
      const shown = this.withDelivery(next);
      this.deps.engine.store(shown, decision.steps.map((s) => s.action).join(','), stateChanged);
      this.deps.log.info({ alertId, action: action.kind, actor: actor.username, state: next.state }, 'alert action');
      return { ok: true, alert: shown };
    });
  }

  /**
   * Gives an alert escalated to one doctor to another (an admin moved the
   * patient: the first doctor left, is on leave, or the district was redrawn).
   * Call inside a group-commit job; it commits with the job. It is a new
   * escalation to `doctor`: a new `escalatedAt`, not yet acknowledged by them,
   * recorded as `escalated.doctor` with the previous doctor in its detail, and
   * told through the same notifier as any escalation, so the call center
   * learns the same way when the new doctor cannot be reached.
   */
  handOverEscalation(alert: Alert, doctor: string, actor: string, at: number, note: string): AlertWithDelivery {
    const from = alert.escalatedTo;
    const next: Alert = { ...alert, escalatedTo: doctor, escalatedAt: at, doctorAcknowledgedAt: null, updatedAt: at };
    this.deps.alerts.appendHistory(alert.id, {
      at, actor, action: 'escalated.doctor', fromState: alert.state, toState: next.state, note,
      detail: { target: 'doctor', to: doctor, from, reason: 'patients.moved' },
    });
    this.deps.notifier.doctorEscalated(next, doctor, from);
    const shown = this.withDelivery(next);
    // The home already heard "your doctor has been told"; that stays true.
    this.deps.engine.store(shown, 'escalated.doctor', false);
    this.deps.log.info({ alertId: alert.id, from, to: doctor, actor }, 'doctor escalation handed over to another doctor');
    return shown;
  }

  /** The first notification of the escalation that reached the doctor: recorded, and screens told. */
  doctorReached(alertId: string, escalatedAt: number, doctor: string, channel: Channel): void {
    this.recordDelivery(alertId, escalatedAt, DOCTOR_NOTIFIED, { to: doctor, channel, escalatedAt });
  }

  /**
   * Nobody reached the doctor: every channel failed or none could (no address,
   * a development stand-in). Recorded on the alert and pushed to the screens,
   * where the call center's alarm sounds until an operator acknowledges it.
   */
  doctorUnreachable(alertId: string, escalatedAt: number, doctor: string, delivery: Pick<EscalationDelivery, 'reason' | 'message'>): void {
    this.deps.log.error({ alertId, doctor, reason: delivery.reason }, 'escalated doctor not reached: the call center must phone them');
    this.recordDelivery(alertId, escalatedAt, DOCTOR_UNREACHABLE, { to: doctor, escalatedAt, reason: delivery.reason, message: delivery.message });
  }

  private recordDelivery(alertId: string, escalatedAt: number, action: string, detail: Record<string, unknown>): void {
    this.deps.writer.run(() => {
      const alert = this.current(alertId);
      // Resolved, escalated to 120 or escalated again since: this outcome is about a superseded escalation.
      if (!alert || alert.state === 'resolved' || alert.escalationTarget !== 'doctor' || alert.escalatedAt !== escalatedAt) return;
      const at = this.deps.now();
      this.deps.alerts.appendHistory(alertId, { at, actor: 'system', action, fromState: alert.state, toState: alert.state, note: null, detail });
      this.deps.engine.store(this.withDelivery({ ...alert, updatedAt: at }), action, false);
    }).catch((err: unknown) => this.deps.log.error({ err, alertId, action }, 'recording the doctor delivery on the alert failed'));
  }

  /** An operator saw that the doctor was not reached (and phones them): the console's alarm stops. */
  private acknowledgeUnreachable(alert: Alert, actor: Actor, note: string | null, at: number): ActionResult {
    this.deps.alerts.appendHistory(alert.id, {
      at, actor: actor.username, action: DOCTOR_UNREACHABLE_ACKNOWLEDGED, fromState: alert.state, toState: alert.state, note,
      detail: { to: alert.escalatedTo, escalatedAt: alert.escalatedAt },
    });
    const next = this.withDelivery({ ...alert, updatedAt: at });
    this.deps.engine.store(next, DOCTOR_UNREACHABLE_ACKNOWLEDGED, false);
    this.deps.log.info({ alertId: alert.id, action: 'ack', actor: actor.username, doctor: alert.escalatedTo }, 'doctor not reached: acknowledged by the call center');
    return { ok: true, alert: next };
  }

  /** As stored (the engine's memory for unresolved alerts). */
  private current(id: string): Alert | null {
    return this.deps.engine.findOpen(id) ?? this.deps.alerts.get(id);
  }

  private withDelivery(a: Alert): AlertWithDelivery {
    const d = this.deps.notifier.doctorDelivery(a);
    if (!d) return { ...a, escalationDelivery: null };
    const ack = d.state === 'failed'
      ? this.deps.alerts.history(a.id).findLast((h) => h.action === DOCTOR_UNREACHABLE_ACKNOWLEDGED && h.detail?.escalatedAt === a.escalatedAt)
      : undefined;
    return { ...a, escalationDelivery: { ...d, acknowledgedAt: ack?.at ?? null, acknowledgedBy: ack?.actor ?? null } };
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

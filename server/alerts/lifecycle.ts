/**
 * The alert lifecycle of SPEC §5 as a pure state machine. Every action is
 * checked here; the alert service applies what this allows and records it.
 *
 *   open ──ack──▶ acknowledged ──escalate──▶ escalated ──resolve──▶ resolved
 *     │                 └───────────resolve─────────────────────────▲
 *     └──resolve (info, or an operator with a note)─────────────────┘
 *
 * Escalating an open alert acknowledges it first (one click to 120 for a
 * critical alert), and both steps are recorded. An alert escalated to a doctor
 * may be escalated again to emergency; nothing leaves `resolved`.
 */
import { isCallCenter, type Role } from '../store/userStore.js';
import type { Severity } from '../rules/types.js';

export const ALERT_STATES = ['open', 'acknowledged', 'escalated', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];
export type EscalationTarget = 'doctor' | 'emergency';

export const OUTCOMES = ['handled', 'false_alarm', 'hospitalised', 'no_answer_visit', 'referred_to_doctor', 'recovered', 'deceased', 'other'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface LifecycleView {
  state: AlertState;
  severity: Severity;
  escalationTarget: EscalationTarget | null;
  escalatedTo: string | null;
  doctorAcknowledgedAt: number | null;
}

export interface Actor {
  username: string;
  role: Role;
}

export type Action =
  | { kind: 'ack'; note?: string }
  | { kind: 'escalate'; target: EscalationTarget; note?: string }
  | { kind: 'resolve'; outcome: Outcome; note?: string }
  | { kind: 'comment'; note: string };

export type Decision =
  | { ok: true; steps: Array<{ action: string; from: AlertState; to: AlertState }> }
  | { ok: false; status: 403 | 409 | 400; code: string; message: string };

const conflict = (message: string): Decision => ({ ok: false, status: 409, code: 'illegal_transition', message });
const forbid = (message: string): Decision => ({ ok: false, status: 403, code: 'forbidden', message });

/** Whether `actor` may take `action` on an alert in `view`, and which transitions it makes. */
export function decide(view: LifecycleView, action: Action, actor: Actor): Decision {
  const { state } = view;
  // Supervisors (call-center shift leads) act on alerts as operators do.
  const isOperator = isCallCenter(actor.role);
  const isTheDoctor = actor.role === 'doctor' && view.escalatedTo === actor.username && view.escalationTarget === 'doctor';
  switch (action.kind) {
    case 'ack':
      if (actor.role === 'doctor') {
        if (!isTheDoctor) return forbid('only the doctor this alert was escalated to may acknowledge it');
        if (state !== 'escalated') return conflict(`a ${state} alert cannot be acknowledged by the doctor`);
        if (view.doctorAcknowledgedAt !== null) return conflict('already acknowledged by the doctor');
        return { ok: true, steps: [{ action: 'doctor.acknowledged', from: state, to: state }] };
      }
      if (!isOperator) return forbid('only operators acknowledge alerts');
      if (state !== 'open') return conflict(`the alert is already ${state}`);
      return { ok: true, steps: [{ action: 'acknowledged', from: 'open', to: 'acknowledged' }] };
    case 'escalate':
      if (!isOperator) return forbid('only operators escalate alerts');
      if (state === 'resolved') return conflict('a resolved alert cannot be escalated');
      if (state === 'escalated' && !(view.escalationTarget === 'doctor' && action.target === 'emergency')) {
        return conflict(`the alert is already escalated to ${view.escalationTarget}`);
      }
      return {
        ok: true,
        steps: state === 'open'
          ? [{ action: 'acknowledged', from: 'open', to: 'acknowledged' }, { action: `escalated.${action.target}`, from: 'acknowledged', to: 'escalated' }]
          : [{ action: `escalated.${action.target}`, from: state, to: 'escalated' }],
      };
    case 'resolve':
      if (!isOperator && !isTheDoctor) return forbid('only operators, or the doctor the alert was escalated to, resolve alerts');
      if (state === 'resolved') return conflict('the alert is already resolved');
      if (state === 'open' && view.severity !== 'info' && !(isOperator && action.note?.trim())) {
        return { ok: false, status: 409, code: 'note_required', message: 'resolving an alert nobody acknowledged needs a note saying why' };
      }
      return { ok: true, steps: [{ action: 'resolved', from: state, to: 'resolved' }] };
    case 'comment':
      if (!isOperator && !isTheDoctor) return forbid('only operators, or the doctor the alert was escalated to, comment');
      if (!action.note.trim()) return { ok: false, status: 400, code: 'invalid_request', message: 'a comment needs text' };
      return { ok: true, steps: [{ action: 'commented', from: state, to: state }] };
  }
}

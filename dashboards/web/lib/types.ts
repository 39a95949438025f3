/** The hub's JSON as the dashboards read it (SPEC §6; server/alerts/alertPresenter.ts, server/api/schemas.ts). */

export type Lang = 'zh-CN' | 'en';
export type Text = Record<Lang, string>;
/** `supervisor`: a call-center shift lead, on the operator console with an overdue panel (README, "Roles"). */
export const ROLES = ['operator', 'supervisor', 'doctor', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export type Severity = 'critical' | 'urgent' | 'warning' | 'info';
export type AlertState = 'open' | 'acknowledged' | 'escalated' | 'resolved';
export type ReadingType = 'blood_pressure' | 'glucose' | 'fall' | 'sos' | 'heartbeat' | 'motion';

export const SEVERITY_ORDER: Record<Severity, number> = { critical: 3, urgent: 2, warning: 1, info: 0 };
export const OUTCOMES = ['handled', 'false_alarm', 'hospitalised', 'no_answer_visit', 'referred_to_doctor', 'recovered', 'deceased', 'other'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface User {
  username: string;
  role: Role;
  name: string | null;
}

/** An account as an admin manages it (GET /api/v1/users). */
export interface UserAccount extends User {
  phone: string | null;
  webhookUrl: string | null;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

/** What an admin changes of an account (PUT /api/v1/users/{username}). */
export interface UserChange {
  role?: Role;
  name?: string | null;
  phone?: string | null;
  webhookUrl?: string | null;
  disabled?: boolean;
}

/**
 * A doctor as an admin sees them (GET /api/v1/doctors): their patients and
 * what sits in their queue (alerts escalated to them; their patients' warnings).
 */
export interface DoctorOverview {
  username: string;
  name: string | null;
  role: Role;
  disabled: boolean;
  patients: number;
  escalations: number;
  warnings: number;
  openItems: number;
}

/** One of a doctor's patients, to choose whom to move (GET /api/v1/doctors/{username}/patients). */
export interface DoctorPatient {
  id: string;
  name: string;
  homeId: string;
  escalations: number;
  warnings: number;
}

/** The answer of POST /api/v1/doctors/{username}/patients/move. */
export interface PatientsMoved {
  from: string;
  to: string;
  residents: string[];
  escalations: string[];
  warnings: string[];
  remaining: Pick<DoctorOverview, 'patients' | 'escalations' | 'warnings' | 'openItems'>;
}

export type Values = Record<string, number | string | boolean>;

export interface Alert {
  id: string;
  homeId: string;
  residentId: string | null;
  deviceId: string | null;
  rule: string;
  severity: Severity;
  state: AlertState;
  title: string;
  titles: Text;
  explanation: Text;
  late: boolean;
  count: number;
  lastReading: { deviceId: string; id: string; type: string; ts: string; values: Values } | null;
  incidentId: string;
  createdAt: string;
  updatedAt: string;
  claimDeadline: string | null;
  overdue: boolean;
  overdueAt: string | null;
  conditionCleared: boolean;
  assignee: string | null;
  acknowledgedAt: string | null;
  escalation: {
    target: 'doctor' | 'emergency'; to: string | null; at: string | null; doctorAcknowledgedAt: string | null;
    /** Whether the doctor was told; absent when the message did not say (keep what was known), null when there is none. */
    delivery?: EscalationDelivery | null;
  } | null;
  resolvedAt: string | null;
  outcome: string | null;
}

/** `GET /api/v1/alerts`: `truncated` when more matched than `limit`; `total` how many matched in all (server/api/routes/alerts.ts). */
export interface AlertPage {
  alerts: Alert[];
  truncated: boolean;
  total: number;
}

/** Whether the doctor an alert was escalated to has been told (server/alerts/alertPresenter.ts). */
export interface EscalationDelivery {
  state: 'pending' | 'delivered' | 'failed';
  reason: string | null;
  /** What the call center is told when the doctor was not reached. */
  message: Text | null;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
}

export interface HistoryEntry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  fromState: AlertState | null;
  toState: AlertState | null;
  note: string | null;
  detail: Record<string, unknown> | null;
}

export interface AlertDetail {
  alert: Alert;
  explanation: Text;
  history: HistoryEntry[];
  readings: Array<{ deviceId: string; id: string; type: string; ts: string; values: Values }>;
}

export interface Handoff {
  'zh-CN': string;
  en: string;
  fields: Record<string, unknown>;
}

export interface Contact {
  name: string;
  relation?: string;
  phone: string;
}

export interface ClientStatus {
  online: boolean | null;
  statusAt: string | null;
  battery: number | null;
  rssi: number | null;
  firmware: string | null;
  outboxDepth: number | null;
  version: string | null;
  connected: boolean;
  connectedAt: string | null;
  disconnectedAt: string | null;
}

export interface Device {
  id: string;
  homeId: string;
  type: string;
  residentId: string | null;
  heartbeatSeconds: number;
  status: ClientStatus | null;
}

export interface Home {
  id: string;
  address: string;
  phone: string | null;
  access: string | null;
  gatewayId: string | null;
}

export interface Resident {
  id: string;
  homeId: string;
  name: string;
  birthYear: number | null;
  age: number | null;
  sex: string | null;
  doctor: string | null;
  conditions: string[];
  contacts: Contact[];
  targets: Record<string, Record<string, number>>;
}

export interface ResidentDetail extends Resident {
  home: Home;
  devices: Device[];
}

export interface HomeOverview extends Home {
  gatewayStatus: ClientStatus | null;
  residents: Array<{ id: string; name: string; doctor: string | null }>;
  devices: Device[];
}

export interface HomeDetail extends Home {
  gatewayStatus: ClientStatus | null;
  residents: Resident[];
  devices: Device[];
}

export interface LatestReading {
  deviceId: string;
  id: string;
  ts: string;
  values: Values;
}

export interface ResidentSummary {
  resident: Resident & { schedule: Array<{ type: string; time: string }> };
  doctor: { username: string; name: string | null } | null;
  latest: Partial<Record<ReadingType, LatestReading | null>>;
  thresholds: Record<string, Record<string, number>>;
  targeted: Record<string, string[]>;
  missed: Array<{ type: string; time: string; missedDays: number; lastReadingAt: string | null }>;
  openAlerts: Record<Severity, number>;
}

export interface Reading {
  deviceId: string;
  id: string;
  residentId: string | null;
  type: ReadingType;
  ts: string;
  receivedAt: string;
  values: Values;
}

export interface HubConfig {
  tz: string;
  claimDeadlineSeconds: Record<string, number>;
  incidentWindowMinutes: number;
  rules: Record<string, { thresholds: Record<string, number>; severities: Record<string, string>; sources: Record<string, string> }>;
}

export interface KpiSeverity {
  count: number;
  open: number;
  claimedWithin60sPct: number | null;
  claimedWithin180sPct: number | null;
  medianSecondsToClaim: number | null;
  medianSecondsToResolve: number | null;
}

export interface Kpi {
  from: string;
  to: string;
  targets: { claimedWithin60sPct: number; claimedWithin180sPct: number };
  bySeverity: Record<Severity, KpiSeverity>;
}

export interface Refusal {
  seq: number;
  at: string;
  clientId: string | null;
  topic: string;
  code: string;
  field: string | null;
  readingId: string | null;
  detail: string;
  payload: string | null;
}

export interface Credential {
  username: string;
  password: string;
  kind: 'device' | 'gateway';
}

export interface ImportResult {
  credentials: Credential[];
  users: Array<{ username: string; password: string }>;
  created: Record<string, number>;
  updated: Record<string, number>;
  unchanged: Record<string, number>;
}

/** The readings a stream client asks for (`{"watch": …}`); without one, every reading it may see. */
export interface ReadingWatch {
  residents?: string[];
  homes?: string[];
}

/** A live event from `/api/v1/stream` (server/realtime/streamHub.ts). */
export type StreamMessage =
  | { type: 'hello'; seq: number; user: { username: string; role: Role } }
  | { type: 'watching'; watch: ReadingWatch | null }
  | { type: 'resumed'; seq: number }
  | { type: 'resync'; oldestSeq: number }
  | { type: 'error'; error: string; message: string }
  | { seq: number; type: 'alert.created' | 'alert.updated'; at: string; data: Alert & { reason?: string } }
  | { seq: number; type: 'reading'; at: string; data: { deviceId: string; id: string; residentId: string | null; homeId: string; type: ReadingType; ts: string; values: Values } }
  | { seq: number; type: 'device.status'; at: string; data: { clientId: string; kind: 'device' | 'gateway'; homeId: string; online: boolean; at: string; source: string } }
  /** An admin moved a patient to another doctor (to both doctors and the call center). */
  | { seq: number; type: 'resident.doctor_changed'; at: string; data: { residentId: string; from: string; to: string } };

export type StreamEvent = Extract<StreamMessage, { seq: number; at: string }>;

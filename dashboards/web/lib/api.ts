/**
 * The REST API (SPEC §6) as typed functions. The session is the HttpOnly cookie
 * the sign-in sets, so requests carry no token; a 401 anywhere means the
 * session ended and the app returns to the sign-in page.
 */
import type {
  Alert, AlertDetail, AlertPage, Handoff, HomeDetail, HomeOverview, HubConfig, ImportResult, Kpi, Lang, Outcome, Reading, ReadingType,
  Refusal, Resident, ResidentDetail, ResidentSummary, User, Credential, Home, UserAccount, UserChange,
} from './types';
import type { DoctorOverview, DoctorPatient, PatientsMoved } from './types';
import type { Device } from './types';

/** An error answer of the hub: `{error, message, field?, errors?[{path, message}]}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly errors: Array<{ path: string; message: string }> = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Answers of the admin actions (server/api/routes/adminActions.ts). */
export interface ResidentMoved { resident: Resident; fromHomeId: string; movedDevices: string[]; unboundDevices: string[]; resolvedAlerts: string[] }
export interface DeviceMoved { device: Device; fromHomeId: string; resolvedAlerts: string[] }
export interface GatewayReplaced { homeId: string; gatewayId: string; previousGatewayId: string; credential: Credential }
export interface DeviceRetired { id: string; homeId: string; retiredAt: string; resolvedAlerts: string[] }

let onUnauthenticated: () => void = () => {};
/** Called once per 401, so the app can show the sign-in page. */
export function setUnauthenticatedHandler(fn: () => void): void {
  onUnauthenticated = fn;
}

/**
 * The hub ended this session (the stream said so): back to the sign-in page.
 * Signs out too, which clears the cookie, and ends the session if only the
 * user's role changed (the page on screen is the old role's).
 */
export async function sessionEnded(): Promise<void> {
  await call('POST', '/api/v1/auth/logout').catch(() => {});
  onUnauthenticated();
}

let lang: Lang = 'zh-CN';
/** Server-side texts (alert titles, hand-off) follow the screen's language. */
export function setApiLang(l: Lang): void {
  lang = l;
}

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: { accept: 'application/json', 'accept-language': lang, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await res.text();
  const json = text ? (JSON.parse(text) as unknown) : null;
  if (!res.ok) {
    const e = (json ?? {}) as { error?: string; message?: string; field?: string; errors?: Array<{ path: string; message: string }> };
    if (res.status === 401 && !url.endsWith('/auth/login')) onUnauthenticated();
    throw new ApiError(res.status, e.error ?? 'http_error', e.message ?? `${res.status} ${res.statusText}`, e.field, e.errors ?? []);
  }
  return json as T;
}

const q = (params: Record<string, string | number | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') s.set(k, String(v));
  const str = s.toString();
  return str ? `?${str}` : '';
};

type AlertQuery = { state?: string; severity?: string; since?: string; limit?: number };
const alertsPage = (params: AlertQuery = {}) => call<AlertPage>('GET', `/api/v1/alerts${q({ ...params, lang })}`);

export const api = {
  login: (username: string, password: string) => call<{ token: string; user: User }>('POST', '/api/v1/auth/login', { username, password }),
  logout: () => call<{ ok: boolean }>('POST', '/api/v1/auth/logout'),
  me: () => call<{ user: User }>('GET', '/api/v1/auth/me'),

  config: () => call<HubConfig>('GET', '/api/v1/dashboard/config'),
  alerts: (params: AlertQuery = {}) => alertsPage(params).then((r) => r.alerts),
  /** The list with whether it was cut at `limit` and how many matched in all. */
  alertsPage,
  alert: (id: string) => call<AlertDetail>('GET', `/api/v1/alerts/${id}${q({ lang })}`),
  ack: (id: string, note?: string) => call<{ alert: Alert }>('POST', `/api/v1/alerts/${id}/ack`, note ? { note } : {}),
  escalate: (id: string, target: 'doctor' | 'emergency', note?: string) =>
    call<{ alert: Alert; handoff?: Handoff }>('POST', `/api/v1/alerts/${id}/escalate${q({ lang })}`, { target, ...(note && { note }) }),
  resolve: (id: string, outcome: Outcome, note?: string) => call<{ alert: Alert }>('POST', `/api/v1/alerts/${id}/resolve`, { outcome, ...(note && { note }) }),
  comment: (id: string, note: string) => call<{ alert: Alert }>('POST', `/api/v1/alerts/${id}/comment`, { note }),
  handoff: (id: string) => call<Handoff>('GET', `/api/v1/alerts/${id}/handoff${q({ lang })}`),
  kpi: (from: Date) => call<Kpi>('GET', `/api/v1/kpi${q({ from: from.toISOString() })}`),

  residents: () => call<{ residents: Resident[] }>('GET', '/api/v1/residents').then((r) => r.residents),
  resident: (id: string) => call<ResidentDetail>('GET', `/api/v1/residents/${id}`),
  homes: () => call<{ homes: Home[] }>('GET', '/api/v1/homes').then((r) => r.homes),
  home: (id: string) => call<HomeDetail>('GET', `/api/v1/homes/${id}`),
  summary: (id: string) => call<ResidentSummary>('GET', `/api/v1/dashboard/residents/${id}`),
  patients: () => call<{ patients: ResidentSummary[] }>('GET', '/api/v1/dashboard/patients').then((r) => r.patients),
  homesOverview: () => call<{ homes: HomeOverview[] }>('GET', '/api/v1/dashboard/homes').then((r) => r.homes),
  readings: (id: string, type: ReadingType, from: Date) =>
    call<{ readings: Reading[] }>('GET', `/api/v1/residents/${id}/readings${q({ type, from: from.toISOString(), limit: 10000 })}`).then((r) => r.readings),
  putTargets: (id: string, targets: Record<string, Record<string, number>>) =>
    call<{ targets: Record<string, Record<string, number>> }>('PUT', `/api/v1/residents/${id}/targets`, targets),

  importDocument: (doc: unknown) => call<ImportResult>('POST', '/api/v1/import', doc),
  rotateSecret: (id: string) => call<Credential>('POST', `/api/v1/devices/${id}/secret`),
  // Admin actions (server/api/routes/adminActions.ts): the changes an import refuses to make.
  moveResident: (id: string, homeId: string, devices?: 'move' | 'unbind') =>
    call<ResidentMoved>('POST', `/api/v1/residents/${id}/move`, { homeId, ...(devices && { devices }) }),
  moveDevice: (id: string, homeId: string, resident?: string) =>
    call<DeviceMoved>('POST', `/api/v1/devices/${id}/move`, { homeId, ...(resident && { resident }) }),
  replaceGateway: (homeId: string, id: string) => call<GatewayReplaced>('POST', `/api/v1/homes/${homeId}/gateway`, { id }),
  retireDevice: (id: string) => call<DeviceRetired>('DELETE', `/api/v1/devices/${id}`),
  refusals: (params: { limit?: number; before?: number; code?: string } = {}) =>
    call<{ refusals: Refusal[] }>('GET', `/api/v1/refusals${q(params)}`).then((r) => r.refusals),
  users: () => call<{ users: UserAccount[] }>('GET', '/api/v1/users').then((r) => r.users),
  updateUser: (username: string, change: UserChange) =>
    call<{ user: UserAccount; changed: string[]; sessionsEnded: number }>('PUT', `/api/v1/users/${encodeURIComponent(username)}`, change),
  // A doctor's patients (server/api/routes/doctorPatients.ts): counts, and moving them to another doctor.
  doctors: () => call<{ doctors: DoctorOverview[] }>('GET', '/api/v1/doctors').then((r) => r.doctors),
  doctorPatients: (username: string) =>
    call<{ patients: DoctorPatient[] }>('GET', `/api/v1/doctors/${encodeURIComponent(username)}/patients`).then((r) => r.patients),
  /** All of `from`'s patients, or those of `residents`, to `to`; their open items follow. */
  moveDoctorPatients: (from: string, to: string, residents?: string[]) =>
    call<PatientsMoved>('POST', `/api/v1/doctors/${encodeURIComponent(from)}/patients/move`, { to, ...(residents && { residents }) }),
};

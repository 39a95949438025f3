/** Outward JSON of directory records, shared by REST and (later) the live stream. */
import { DEVICE_TYPE_DEFINITIONS, isDeviceType } from '../../devices/deviceTypes.js';
import type { ClientStatus, DeviceInfo, HomeRecord, ResidentRecord } from '../store/directoryStore.js';
import type { StoredReading } from '../store/types.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function presentStatus(s: ClientStatus | null) {
  if (!s) return null;
  return { ...s, statusAt: iso(s.statusAt), connectedAt: iso(s.connectedAt), disconnectedAt: iso(s.disconnectedAt) };
}

export function presentDevice(d: DeviceInfo & { status: ClientStatus | null }) {
  const fallback = isDeviceType(d.type) ? DEVICE_TYPE_DEFINITIONS[d.type].heartbeatSeconds : 300;
  return { ...d, heartbeatSeconds: d.heartbeatSeconds ?? fallback, status: presentStatus(d.status) };
}

export function presentResident(r: ResidentRecord, now: number) {
  return { ...r, age: r.birthYear === null ? null : new Date(now).getUTCFullYear() - r.birthYear };
}

export function presentHome(h: HomeRecord) {
  return h;
}

export function presentReading(r: StoredReading) {
  return {
    deviceId: r.deviceId,
    id: r.id,
    residentId: r.residentId,
    type: r.type,
    ts: new Date(r.ts).toISOString(),
    receivedAt: new Date(r.receivedAt).toISOString(),
    values: r.values,
  };
}

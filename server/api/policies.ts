/**
 * Who may do what on the web side (SPEC §6), in one place. Health data is shown
 * only to clinical roles: operators see every resident, a doctor only their own.
 * Admins provision homes and devices but read no vitals.
 */
import type { ResidentRecord } from '../store/directoryStore.js';
import type { Role, User } from '../store/userStore.js';

export const ROLES = {
  clinical: ['operator', 'doctor'],
  directory: ['operator', 'doctor', 'admin'],
  admin: ['admin'],
} as const satisfies Record<string, readonly Role[]>;

/** May this user see this resident's record and readings? */
export function canSeeResident(user: User, resident: Pick<ResidentRecord, 'doctor'>): boolean {
  if (user.role === 'operator' || user.role === 'admin') return true;
  return user.role === 'doctor' && resident.doctor === user.username;
}

/** May this user read vitals (readings) at all? */
export function canReadVitals(user: User): boolean {
  return user.role === 'operator' || user.role === 'doctor';
}

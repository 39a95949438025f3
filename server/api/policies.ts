/**
 * Who may do what on the web side (SPEC §6), in one place. Health data is shown
 * only to clinical roles: the call center (operators and their supervisors)
 * sees every resident, a doctor only their own. Admins provision homes,
 * devices and people but read no vitals.
 */
import type { ResidentRecord } from '../store/directoryStore.js';
import { isCallCenter, ROLE_NAMES, type Role, type User } from '../store/userStore.js';

export const ROLES = {
  clinical: ['operator', 'supervisor', 'doctor'],
  directory: ['operator', 'supervisor', 'doctor', 'admin'],
  /** Anyone signed in, whatever their role. */
  signedIn: ROLE_NAMES,
  admin: ['admin'],
} as const satisfies Record<string, readonly Role[]>;

/** May this user see this resident's record and readings? */
export function canSeeResident(user: User, resident: Pick<ResidentRecord, 'doctor'>): boolean {
  if (isCallCenter(user.role) || user.role === 'admin') return true;
  return user.role === 'doctor' && resident.doctor === user.username;
}

/** May this user read vitals (readings) at all? */
export function canReadVitals(user: User): boolean {
  return isCallCenter(user.role) || user.role === 'doctor';
}

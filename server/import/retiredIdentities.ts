/**
 * Ids that were an MQTT identity and are no more: retired devices and
 * replaced gateways (directoryActions.ts). Such an id is never issued again,
 * by the import or by an admin action:
 *
 * - readings are deduplicated by `(deviceId, id)` for ever (SPEC §3), so a new
 *   device under an old id would have its first readings taken for the old
 *   one's, acknowledged and dropped, alerts included;
 * - the hub's status row of a client keeps the home it was first heard in, so
 *   a gateway id reused in another home would speak for the wrong home when
 *   the hub restarts (server/alerts/watchdog.ts reads it for gateway_offline).
 *
 * Remembered by the audit trail, which is append-only and never pruned: the
 * retirement's audit entry names the id as its subject. That needs no schema
 * change; a table of retired ids would do the same if the audit is ever pruned.
 */
import type { Db } from '../store/sqliteDb.js';

/** The audit actions that end an MQTT identity, and what the id was. */
export const RETIRING_ACTIONS = { 'device.retired': 'device', 'gateway.replaced': 'gateway' } as const;

export interface Retirement {
  id: string;
  kind: 'device' | 'gateway';
  at: number;
}

const ACTIONS = Object.keys(RETIRING_ACTIONS);
const IN_ACTIONS = `action IN (${ACTIONS.map(() => '?').join(', ')})`;

/** Every retired id, for checking a whole import at once. */
export function retiredIdentities(db: Db): Map<string, Retirement> {
  const rows = db.prepare(`SELECT subject, action, at FROM audit WHERE ${IN_ACTIONS} AND subject IS NOT NULL ORDER BY seq`)
    .all(...ACTIONS) as Array<{ subject: string; action: keyof typeof RETIRING_ACTIONS; at: number }>;
  return new Map(rows.map((r) => [r.subject, { id: r.subject, kind: RETIRING_ACTIONS[r.action], at: r.at }]));
}

/** Whether one id was retired (a point lookup, for a single admin action). */
export function retirementOf(db: Db, id: string): Retirement | undefined {
  const r = db.prepare(`SELECT action, at FROM audit WHERE subject = ? AND ${IN_ACTIONS} ORDER BY seq DESC LIMIT 1`)
    .get(id, ...ACTIONS) as { action: keyof typeof RETIRING_ACTIONS; at: number } | undefined;
  return r && { id, kind: RETIRING_ACTIONS[r.action], at: r.at };
}

/** What became of the id, e.g. `bp-0001 is a device retired on 2025-03-10T01:00:00.000Z`. */
export function retirementText(r: Retirement): string {
  return `${r.id} is ${r.kind === 'device' ? 'a device retired' : 'a gateway replaced'} on ${new Date(r.at).toISOString()}`;
}

/** Why a retired id cannot be issued, said the same way by the import and the admin actions. */
export function retirementProblem(r: Retirement): string {
  return `${retirementText(r)}; a retired id is never reused (readings are deduplicated by device id): give the new one another id`;
}

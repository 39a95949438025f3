/**
 * The bulk-onboarding document (SPEC §6): homes with their residents, gateway
 * and devices, plus the web-side users they refer to. One schema serves the
 * CLI, `POST /api/v1/import` and the OpenAPI document.
 *
 * Every object is closed (`additionalProperties: false`): a district's
 * spreadsheet export with `adress` or `birthyear` must be refused with the
 * misspelt field named, not imported with the value silently lost.
 * Cross-references (doctor, device → resident, ids already in use) cannot be
 * said in JSON Schema; `importChecks.ts` checks them.
 */
import { Type, type Static } from 'typebox';
import { DEVICE_TYPES } from '../../devices/deviceTypes.js';
import { ID_PATTERN } from '../../devices/topics.js';
import { ROLE_NAMES } from '../store/userStore.js';

/** SPEC §1: a home has at most 4 residents. */
export const MAX_RESIDENTS_PER_HOME = 4;

/** Web-side account names: lower case so `Dr-Li` and `dr-li` cannot both exist. */
export const USERNAME_PATTERN = '^[a-z0-9][a-z0-9._-]{1,63}$';

/** Rule names (SPEC §4) and threshold names are identifiers: `bp_high` → `systolic`. */
const RULE_NAME_PATTERN = '^[a-z][a-z0-9_]{0,63}$';
const THRESHOLD_NAME_PATTERN = '^[a-zA-Z][a-zA-Z0-9_]{0,63}$';

/** At least one visible character: a blank address or name is as bad as a missing one. */
export const NOT_BLANK = '\\S';

const Id = Type.String({ pattern: ID_PATTERN });
const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: NOT_BLANK });
const Phone = Type.String({ minLength: 3, maxLength: 40, pattern: NOT_BLANK });

export const ImportContact = Type.Object({
  name: Text(100),
  relation: Type.Optional(Text(50)),
  phone: Phone,
}, { additionalProperties: false });

/** Per-rule overrides set by the doctor, e.g. `{"bp_high": {"systolic": 170}}`. */
export const ImportTargets = Type.Record(
  Type.String({ pattern: RULE_NAME_PATTERN }),
  Type.Record(Type.String({ pattern: THRESHOLD_NAME_PATTERN }), Type.Number(), { additionalProperties: false }),
  { additionalProperties: false },
);

/** One scheduled daily measurement, e.g. `{"type": "blood_pressure", "time": "10:00"}`. */
export const ImportScheduleItem = Type.Object({
  type: Type.Enum(['blood_pressure', 'glucose']),
  time: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM local time' }),
}, { additionalProperties: false });

/**
 * The upper bound is fixed when the hub starts; a hub running across New Year
 * refuses that year's births until restarted, which no elderly resident has.
 */
const BirthYear = Type.Integer({ minimum: 1900, maximum: new Date().getFullYear() });

export const ImportResident = Type.Object({
  id: Id,
  name: Text(100),
  birthYear: Type.Optional(BirthYear),
  sex: Type.Optional(Type.Enum(['F', 'M'])),
  conditions: Type.Optional(Type.Array(Text(64), { maxItems: 32 })),
  /** Family doctor: the username of a user with role `doctor`. */
  doctor: Type.Optional(Type.String({ pattern: USERNAME_PATTERN })),
  /** Whom to call, first to last. */
  contacts: Type.Optional(Type.Array(ImportContact, { maxItems: 10 })),
  targets: Type.Optional(ImportTargets),
  /** Daily measurements expected, in local time (ANXIN_TZ); `reading_missed` fires 2 h after each. */
  schedule: Type.Optional(Type.Array(ImportScheduleItem, { maxItems: 8 })),
}, { additionalProperties: false });

export const ImportGateway = Type.Object({ id: Id }, { additionalProperties: false });

export const ImportDevice = Type.Object({
  id: Id,
  // An enum rather than a union of literals: one error per bad value, not one per allowed type.
  type: Type.Enum(DEVICE_TYPES),
  /** A resident of the same home this device is bound to. */
  resident: Type.Optional(Id),
  /** Expected interval between heartbeats; `device_offline` fires after 3 missed ones (SPEC §4). */
  heartbeatSeconds: Type.Optional(Type.Integer({ minimum: 30, maximum: 86_400 })),
}, { additionalProperties: false });

export const ImportHome = Type.Object({
  id: Id,
  address: Text(500),
  phone: Type.Optional(Phone),
  /** How rescuers get in: key safe, neighbour with a key, door code. */
  access: Type.Optional(Text(500)),
  residents: Type.Optional(Type.Array(ImportResident, { maxItems: MAX_RESIDENTS_PER_HOME })),
  gateway: Type.Optional(ImportGateway),
  devices: Type.Optional(Type.Array(ImportDevice)),
}, { additionalProperties: false });

export const ImportUser = Type.Object({
  username: Type.String({ pattern: USERNAME_PATTERN }),
  /** `supervisor`: a call-center shift lead (README, "Roles"). */
  role: Type.Enum(ROLE_NAMES),
  name: Type.Optional(Text(100)),
  /** Where escalations reach a doctor: SMS to this phone… */
  phone: Type.Optional(Phone),
  /** …and/or a signed webhook (see README, "Notifications"). */
  webhookUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 500 })),
}, { additionalProperties: false });

/** The whole document, as accepted by `npm run anxin -- import FILE` and `POST /api/v1/import`. */
export const ImportDocument = Type.Object({
  homes: Type.Optional(Type.Array(ImportHome)),
  users: Type.Optional(Type.Array(ImportUser)),
}, { additionalProperties: false });

export type ImportContact = Static<typeof ImportContact>;
export type ImportTargets = Static<typeof ImportTargets>;
export type ImportResident = Static<typeof ImportResident>;
export type ImportGateway = Static<typeof ImportGateway>;
export type ImportDevice = Static<typeof ImportDevice>;
export type ImportHome = Static<typeof ImportHome>;
export type ImportUser = Static<typeof ImportUser>;
export type ImportDocument = Static<typeof ImportDocument>;

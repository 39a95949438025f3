/**
 * Response shapes of the REST API, in TypeBox: they validate nothing on the
 * way out but document the API (OpenAPI) and make serialisation fast.
 */
import { Type } from 'typebox';
import { DEVICE_TYPES } from '../../devices/deviceTypes.js';
import { READING_TYPES } from '../../devices/readingSchema.js';
import { ROLE_NAMES } from '../store/userStore.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const literals = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const ErrorBody = Type.Object({
  error: Type.String({ description: 'stable code, e.g. invalid_request, not_found, forbidden' }),
  message: Type.String(),
  field: Type.Optional(Type.String({ description: 'the request field the error is about' })),
  errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
});

export const UserBody = Type.Object({
  username: Type.String(),
  role: literals(ROLE_NAMES),
  name: Nullable(Type.String()),
});

export const ClientStatusBody = Type.Object({
  online: Nullable(Type.Boolean()),
  statusAt: Nullable(Type.String({ format: 'date-time' })),
  battery: Nullable(Type.Number()),
  rssi: Nullable(Type.Integer()),
  firmware: Nullable(Type.String()),
  outboxDepth: Nullable(Type.Integer()),
  version: Nullable(Type.String()),
  connected: Type.Boolean(),
  connectedAt: Nullable(Type.String({ format: 'date-time' })),
  disconnectedAt: Nullable(Type.String({ format: 'date-time' })),
});

export const DeviceBody = Type.Object({
  id: Type.String(),
  homeId: Type.String(),
  type: literals(DEVICE_TYPES),
  residentId: Nullable(Type.String()),
  heartbeatSeconds: Type.Integer(),
  status: Nullable(ClientStatusBody),
});

export const ContactBody = Type.Object({ name: Type.String(), relation: Type.Optional(Type.String()), phone: Type.String() });

export const ResidentBody = Type.Object({
  id: Type.String(),
  homeId: Type.String(),
  name: Type.String(),
  birthYear: Nullable(Type.Integer()),
  age: Nullable(Type.Integer()),
  sex: Nullable(Type.String()),
  doctor: Nullable(Type.String()),
  conditions: Type.Array(Type.String()),
  contacts: Type.Array(ContactBody),
  targets: Type.Record(Type.String(), Type.Record(Type.String(), Type.Number())),
});

export const HomeBody = Type.Object({
  id: Type.String(),
  address: Type.String(),
  phone: Nullable(Type.String()),
  access: Nullable(Type.String({ description: 'door/key access notes for rescuers' })),
  gatewayId: Nullable(Type.String()),
});

export const HomeDetailBody = Type.Object({
  ...HomeBody.properties,
  gatewayStatus: Nullable(ClientStatusBody),
  residents: Type.Array(ResidentBody),
  devices: Type.Array(DeviceBody),
});

export const ResidentDetailBody = Type.Object({
  ...ResidentBody.properties,
  home: HomeBody,
  devices: Type.Array(DeviceBody),
});

export const ReadingBody = Type.Object({
  deviceId: Type.String(),
  id: Type.String(),
  residentId: Nullable(Type.String()),
  type: literals(READING_TYPES),
  ts: Type.String({ format: 'date-time', description: 'measurement time' }),
  receivedAt: Type.String({ format: 'date-time' }),
  values: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String(), Type.Boolean()]), {
    description: 'stored units: mmHg, bpm, mmol/L; sourceUnit says what the device sent',
  }),
});

export const RefusalBody = Type.Object({
  seq: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  clientId: Nullable(Type.String()),
  topic: Type.String(),
  code: Type.String(),
  field: Nullable(Type.String()),
  readingId: Nullable(Type.String()),
  detail: Type.String(),
  payload: Nullable(Type.String()),
});

export const CredentialBody = Type.Object({
  username: Type.String(),
  password: Type.String({ description: 'shown once; only its hash is kept' }),
  kind: literals(['device', 'gateway']),
});

export const IdParams = Type.Object({ id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' }) });

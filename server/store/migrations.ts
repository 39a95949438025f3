/**
 * Schema of the embedded store, versioned in code. Each migration runs once, in
 * order, inside a transaction; `PRAGMA user_version` records how far a file is.
 * Never edit a released migration: add the next one.
 */
export const MIGRATIONS: readonly string[] = [
  /* 1: foundation — accounts, directory, device identity, readings, refusals, audit */ `
  CREATE TABLE users (
    username      TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('operator', 'doctor', 'admin')),
    name          TEXT,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX sessions_username ON sessions (username);

  CREATE TABLE homes (
    id         TEXT PRIMARY KEY,
    address    TEXT NOT NULL,
    phone      TEXT,
    access     TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE residents (
    id         TEXT PRIMARY KEY,
    home_id    TEXT NOT NULL REFERENCES homes (id),
    name       TEXT NOT NULL,
    birth_year INTEGER,
    sex        TEXT,
    doctor     TEXT REFERENCES users (username),
    conditions TEXT NOT NULL DEFAULT '[]',
    contacts   TEXT NOT NULL DEFAULT '[]',
    targets    TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX residents_home ON residents (home_id);
  CREATE INDEX residents_doctor ON residents (doctor);

  CREATE TABLE gateways (
    id         TEXT PRIMARY KEY,
    home_id    TEXT NOT NULL UNIQUE REFERENCES homes (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE devices (
    id                TEXT PRIMARY KEY,
    home_id           TEXT NOT NULL REFERENCES homes (id),
    type              TEXT NOT NULL,
    resident_id       TEXT REFERENCES residents (id),
    heartbeat_seconds INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX devices_home ON devices (home_id);

  -- One MQTT identity per device and gateway: the username is its id.
  CREATE TABLE mqtt_credentials (
    username    TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('device', 'gateway')),
    home_id     TEXT NOT NULL REFERENCES homes (id),
    secret_hash TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    rotated_at  INTEGER NOT NULL
  ) STRICT;

  -- Last known state of every device and gateway, from its retained status,
  -- its last will and the broker's connect/disconnect events.
  CREATE TABLE client_status (
    client_id       TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    home_id         TEXT NOT NULL,
    online          INTEGER,
    status_at       INTEGER,
    battery         REAL,
    rssi            INTEGER,
    firmware        TEXT,
    outbox_depth    INTEGER,
    version         TEXT,
    connected       INTEGER NOT NULL DEFAULT 0,
    connected_at    INTEGER,
    disconnected_at INTEGER
  ) STRICT;

  -- Readings; the unique key is also the dedupe key, so it survives restarts.
  CREATE TABLE readings (
    seq         INTEGER PRIMARY KEY,
    device_id   TEXT NOT NULL,
    reading_id  TEXT NOT NULL,
    home_id     TEXT NOT NULL,
    resident_id TEXT,
    type        TEXT NOT NULL,
    ts          INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    vals        TEXT NOT NULL,
    UNIQUE (device_id, reading_id)
  ) STRICT;
  CREATE INDEX readings_resident_type_ts ON readings (resident_id, type, ts);
  CREATE INDEX readings_home_ts ON readings (home_id, ts);

  -- Refused payloads, bounded (oldest pruned), for an admin to inspect.
  CREATE TABLE refusals (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    client_id  TEXT,
    topic      TEXT NOT NULL,
    code       TEXT NOT NULL,
    field      TEXT,
    reading_id TEXT,
    detail     TEXT NOT NULL,
    payload    TEXT
  ) STRICT;

  CREATE TABLE audit (
    seq     INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT,
    detail  TEXT
  ) STRICT;
  `,
];

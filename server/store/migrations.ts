/**
 * Schema of the embedded store, versioned in code. Each migration runs once, in
 * order, inside a transaction; `PRAGMA user_version` records how far a file is.
 * Never edit a released migration: add the next one.
 */
import { NOTIFY_MIGRATION } from '../notify/deliveryQueue.js';

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
  /* 2: alerts — lifecycle, history, incidents, the stream's durable event log, engine state */ `
  ALTER TABLE residents ADD COLUMN schedule TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE users ADD COLUMN phone TEXT;
  ALTER TABLE users ADD COLUMN webhook_url TEXT;
  ALTER TABLE client_status ADD COLUMN last_seen_at INTEGER;

  CREATE TABLE incidents (
    id            TEXT PRIMARY KEY,
    home_id       TEXT NOT NULL,
    opened_at     INTEGER NOT NULL,
    last_alert_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX incidents_home ON incidents (home_id, last_alert_at);

  CREATE TABLE alerts (
    id                TEXT PRIMARY KEY,
    -- resident:<id>:<rule>, home:<id>:<rule> or device:<id>:<rule>; one unresolved alert per key.
    dedupe_key        TEXT NOT NULL,
    home_id           TEXT NOT NULL,
    resident_id       TEXT,
    device_id         TEXT,
    rule              TEXT NOT NULL,
    severity          TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'urgent', 'critical')),
    state             TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'escalated', 'resolved')),
    title             TEXT NOT NULL,
    explanation       TEXT NOT NULL,
    late              INTEGER NOT NULL DEFAULT 0,
    count             INTEGER NOT NULL,
    last_reading      TEXT,
    incident_id       TEXT NOT NULL REFERENCES incidents (id),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    claim_deadline    INTEGER,
    overdue_at        INTEGER,
    condition_cleared_at INTEGER,
    assignee          TEXT,
    acknowledged_at   INTEGER,
    escalation_target TEXT CHECK (escalation_target IN ('doctor', 'emergency')),
    escalated_to      TEXT,
    escalated_at      INTEGER,
    doctor_acknowledged_at INTEGER,
    resolved_at       INTEGER,
    outcome           TEXT
  ) STRICT;
  CREATE UNIQUE INDEX alerts_unresolved_key ON alerts (dedupe_key) WHERE state != 'resolved';
  CREATE INDEX alerts_state_created ON alerts (state, created_at);
  CREATE INDEX alerts_created ON alerts (created_at);
  CREATE INDEX alerts_escalated_to ON alerts (escalated_to, state);

  -- Append-only: every transition and note, with who and when.
  CREATE TABLE alert_history (
    seq        INTEGER PRIMARY KEY,
    alert_id   TEXT NOT NULL REFERENCES alerts (id),
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    note       TEXT,
    detail     TEXT
  ) STRICT;
  CREATE INDEX alert_history_alert ON alert_history (alert_id, seq);
  CREATE TRIGGER alert_history_append_only_u BEFORE UPDATE ON alert_history BEGIN SELECT RAISE(ABORT, 'alert history is append-only'); END;
  CREATE TRIGGER alert_history_append_only_d BEFORE DELETE ON alert_history BEGIN SELECT RAISE(ABORT, 'alert history is append-only'); END;

  CREATE TABLE alert_readings (
    alert_id   TEXT NOT NULL REFERENCES alerts (id),
    device_id  TEXT NOT NULL,
    reading_id TEXT NOT NULL,
    PRIMARY KEY (alert_id, device_id, reading_id)
  ) STRICT, WITHOUT ROWID;

  -- The live stream's durable log (SPEC §6): a reconnecting dashboard resumes from its last seq.
  CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    type        TEXT NOT NULL,
    home_id     TEXT,
    resident_id TEXT,
    data        TEXT NOT NULL
  ) STRICT;

  CREATE TABLE target_changes (
    seq         INTEGER PRIMARY KEY,
    resident_id TEXT NOT NULL,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    old         TEXT NOT NULL,
    new         TEXT NOT NULL
  ) STRICT;
  `,
  /* 3: notifications and their delivery receipts (server/notify/deliveryQueue.ts) */
  NOTIFY_MIGRATION,
  /* 4: time-series forwarding — how far each InfluxDB target has confirmed the readings journal (server/store/journalForwarder.ts) */ `
  CREATE TABLE forward_cursors (
    target     TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  `,
  /* 5: the ingest's cost is index maintenance; nothing reads readings by home and time */ `
  DROP INDEX IF EXISTS readings_home_ts;
  `,
  /* 6: a change counter for the directory the hub caches (homes, residents, devices, credentials),
        so it can tell another process's import from its own writer thread's readings (data_version can't) */ `
  CREATE TABLE directory_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
  ) STRICT;
  INSERT INTO directory_version (id, version) VALUES (1, 0);
  CREATE TRIGGER directory_version_homes_i AFTER INSERT ON homes BEGIN UPDATE directory_version SET version = version + 1; END;
  CREATE TRIGGER directory_version_homes_u AFTER UPDATE ON homes BEGIN UPDATE directory_version SET version = version + 1; END;
  CREATE TRIGGER directory_version_homes_d AFTER DELETE ON homes BEGIN UPDATE directory_version SET version = version + 1; END;
  CREATE TRIGGER directory_version_residents_i AFTER INSERT ON residents BEGIN UPDATE directory_version SET version = version + 1; END;
  CREATE TRIGGER directory_version_residents_u AFTER UPDATE ON residents BEGIN UPDATE directory_version SET version = version + 1; END;
  CREATE TRIGGER directory_version_residents_d AFTER DELETE ON residents BEGIN UPDATE directory_version SET version = version + 1; END;
  CREATE TRIGGER directory_version_gateways_i AFTER INSERT ON gateways BEGIN UPDATE directory_version SET version = version + 1; END;
  CREATE TRIGGER directory_version_gateways_u AFTER UPDATE ON gateways BEGIN UPDATE directory_version SET version = version + 1; END;
  CREATE TRIGGER directory_version_gateways_d AFTER DELETE ON gateways BEGIN UPDATE directory_version SET version = version + 1; END;
  CREATE TRIGGER directory_version_devices_i AFTER INSERT ON devices BEGIN UPDATE directory_version SET version = version + 1; END;
  CREATE TRIGGER directory_version_devices_u AFTER UPDATE ON devices BEGIN UPDATE directory_version SET version = version + 1; END;
  CREATE TRIGGER directory_version_devices_d AFTER DELETE ON devices BEGIN UPDATE directory_version SET version = version + 1; END;
  CREATE TRIGGER directory_version_mqtt_credentials_i AFTER INSERT ON mqtt_credentials BEGIN UPDATE directory_version SET version = version + 1; END;
  CREATE TRIGGER directory_version_mqtt_credentials_u AFTER UPDATE ON mqtt_credentials BEGIN UPDATE directory_version SET version = version + 1; END;
  CREATE TRIGGER directory_version_mqtt_credentials_d AFTER DELETE ON mqtt_credentials BEGIN UPDATE directory_version SET version = version + 1; END;
  `,
  /* 7: a reading's live-stream event is written by the store itself (the writer thread builds its JSON),
        with the seq the hub numbered it (readings.stream_seq); see SqliteReadingStore.streamWith */ `
  ALTER TABLE readings ADD COLUMN stream_seq INTEGER;
  CREATE TRIGGER readings_stream AFTER INSERT ON readings WHEN new.stream_seq IS NOT NULL BEGIN
    INSERT INTO events (seq, at, type, home_id, resident_id, data) VALUES (
      new.stream_seq, new.received_at, 'reading', new.home_id, new.resident_id,
      json_object('deviceId', new.device_id, 'id', new.reading_id, 'residentId', new.resident_id, 'homeId', new.home_id,
        'type', new.type, 'ts', strftime('%Y-%m-%dT%H:%M:%fZ', new.ts / 1000.0, 'unixepoch'), 'values', json(new.vals)));
  END;
  `,
  /* 8: a reading's stream event is not copied into events at all: the stream replays it from the
        reading itself, by its stream_seq (see EventLog.since). Readings journaled under 7 keep their copy. */ `
  DROP TRIGGER readings_stream;
  UPDATE readings SET stream_seq = NULL WHERE stream_seq IS NOT NULL;
  CREATE INDEX readings_stream_seq ON readings (stream_seq) WHERE stream_seq IS NOT NULL;
  `,
  /* 9: the highest stream seq the retention pruning removed, so a resuming screen is told to resync
        exactly when it missed a pruned event (see EventLog.prunedThrough). A store that may have pruned
        before starts from its oldest kept event, as the hub judged until now. */ `
  CREATE TABLE stream_pruned (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    through_seq  INTEGER NOT NULL
  ) STRICT;
  INSERT INTO stream_pruned (id, through_seq) VALUES (1, coalesce((SELECT min(seq) - 1 FROM events), 0));
  `,
  /* 10: a gateway that subscribes is sent its home's unresolved alerts (HubBroker.tellHomeItsAlerts): after a
         hub restart every gateway does at once. With 5,000 unresolved alerts, 10,000 subscribes took 2.3-2.6 s
         of the event loop scanning them all; with this index, 60 ms. */ `
  CREATE INDEX alerts_unresolved_home ON alerts (home_id, created_at) WHERE state != 'resolved';
  `,
  /* 11: where InfluxDB refused points for good, per target (seq ranges, saved with the cursor), so the readings
         API fills them in from the journal instead of losing them (ForwardingRecord, ForwardedReadingQueries) */ `
  CREATE TABLE forward_refused (
    target   TEXT NOT NULL,
    from_seq INTEGER NOT NULL,
    to_seq   INTEGER NOT NULL,
    PRIMARY KEY (target, from_seq)
  ) STRICT;
  `,
  /* 12: the supervisor role (a call-center shift lead; README, "Roles"). SQLite cannot alter a CHECK, so users is
         rebuilt, every row kept. Migrations run in a transaction with foreign keys on, where PRAGMA foreign_keys
         cannot be turned off; dropping users would cascade to sessions and break residents.doctor, so: checks are
         deferred to the commit (the new users rows satisfy residents.doctor again before it), and sessions are put
         back. No index, trigger or view is on users; sessions and residents refer to it by name, so they refer to
         the new table. */ `
  PRAGMA defer_foreign_keys = ON;
  CREATE TEMP TABLE users_before_12 AS SELECT * FROM main.users;
  CREATE TEMP TABLE sessions_before_12 AS SELECT * FROM main.sessions;
  DROP TABLE main.users;
  CREATE TABLE main.users (
    username      TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('operator', 'supervisor', 'doctor', 'admin')),
    name          TEXT,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    phone         TEXT,
    webhook_url   TEXT
  ) STRICT;
  INSERT INTO main.users (username, role, name, password_hash, disabled, created_at, updated_at, phone, webhook_url)
    SELECT username, role, name, password_hash, disabled, created_at, updated_at, phone, webhook_url FROM temp.users_before_12;
  INSERT INTO main.sessions (token_hash, username, created_at, expires_at)
    SELECT token_hash, username, created_at, expires_at FROM temp.sessions_before_12 WHERE true
    ON CONFLICT (token_hash) DO NOTHING;
  DROP TABLE temp.users_before_12;
  DROP TABLE temp.sessions_before_12;
  `,
  /* 13: how far each journal retention policy has looked (server/store/journalRetention.ts), saved with its deletions */ `
  CREATE TABLE journal_retention (
    policy     TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  `,
  /* 14: a home's last motion (the watchdog's no_activity rule) found by one probe when first needed. It was a
         scan of the whole journal at every start: at 30 M readings 2.4 s warm, 8.7 s cold (bench/restart.ts).
         Only motion rows (about 5 % of a journal) are in it. */ `
  CREATE INDEX readings_motion_home_ts ON readings (home_id, ts) WHERE type = 'motion';
  `,
  /* 15: a refused publish's payload is kept once, in refusal_payloads, and each of its refusals refers to it
         (server/store/refusalStore.ts): a gateway publish of 500 refused readings wrote the same 4 KiB 500 times
         (audit D7). The refusals already kept keep their payload: the rows of one publish (same time, client,
         topic and payload) share one, numbered by the publish's first refusal, so numbers rise with seq as new
         ones do. refusals_payload lets the pruning find the lowest payload still referred to in one probe. */ `
  CREATE TABLE refusal_payloads (
    id      INTEGER PRIMARY KEY,
    payload TEXT NOT NULL
  ) STRICT;
  ALTER TABLE refusals ADD COLUMN payload_id INTEGER;
  CREATE TEMP TABLE refusal_payloads_15 (seq INTEGER PRIMARY KEY, first INTEGER NOT NULL);
  INSERT INTO temp.refusal_payloads_15 (seq, first)
    SELECT seq, min(seq) OVER (PARTITION BY at, client_id, topic, payload) FROM main.refusals WHERE payload IS NOT NULL;
  INSERT INTO main.refusal_payloads (id, payload)
    SELECT r.seq, r.payload FROM main.refusals r JOIN temp.refusal_payloads_15 g ON g.seq = r.seq WHERE g.first = r.seq;
  UPDATE main.refusals SET payload_id = (SELECT g.first FROM temp.refusal_payloads_15 g WHERE g.seq = refusals.seq)
    WHERE payload IS NOT NULL;
  DROP TABLE temp.refusal_payloads_15;
  ALTER TABLE main.refusals DROP COLUMN payload;
  CREATE INDEX refusals_payload ON refusals (payload_id);
  `,
];

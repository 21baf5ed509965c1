// Every SQL statement of the project, as named constants in one place (userver's db/sql.hpp
// style). Code elsewhere binds and reads them; no SQL text is written anywhere else.
//
// The constants are `inline constexpr char[]`: one object, hence one address, in the whole
// program, which is what Database::cached() keys its prepared statements on.
//
// Conventions: times are INTEGER milliseconds since the Unix epoch (UTC); JSON columns hold a
// serialized object (TEXT); booleans are INTEGER 0/1. Column lists of the SELECTs below match the
// readers in repositories.cpp (keep them in sync).
#pragma once

namespace valtronics::store::sql {

// ---- connection set-up (Database::open) ----
// WAL + synchronous=NORMAL: a commit appends to the WAL with write(2) and returns; the WAL is
// fsync'ed only at checkpoints. A committed transaction therefore survives a crash or SIGKILL of
// the process (the data is in the OS page cache and in the WAL file); only a power loss or an OS
// crash can lose the last few committed transactions (never corrupting the database). That is
// the durability an alert needs: committed before it is sent, kept if the server is killed.
inline constexpr char kPragmaJournalWal[] = "PRAGMA journal_mode=WAL";
inline constexpr char kPragmaSynchronousNormal[] = "PRAGMA synchronous=NORMAL";
inline constexpr char kPragmaForeignKeysOn[] = "PRAGMA foreign_keys=ON";

// ---- transactions ----
inline constexpr char kBeginImmediate[] = "BEGIN IMMEDIATE";  // SQLite: the write lock at once
inline constexpr char kBegin[] = "BEGIN";                      // PostgreSQL
inline constexpr char kCommit[] = "COMMIT";
inline constexpr char kRollback[] = "ROLLBACK";

// ---- schema version (migrations) ----
inline constexpr char kGetUserVersion[] = "PRAGMA user_version";
// PRAGMA takes no bound parameter: the version number is appended to this prefix.
inline constexpr char kSetUserVersionPrefix[] = "PRAGMA user_version = ";

// Schema version 1.
inline constexpr char kSchemaV1[] = R"~(
CREATE TABLE devices (
  id               INTEGER PRIMARY KEY,
  name             TEXT    NOT NULL,
  device_type      TEXT    NOT NULL DEFAULT 'sensor',
  location         TEXT    NOT NULL DEFAULT '',
  manufacturer     TEXT    NOT NULL DEFAULT '',
  model            TEXT    NOT NULL DEFAULT '',
  firmware_version TEXT    NOT NULL DEFAULT '',
  metadata         TEXT    NOT NULL DEFAULT '{}',
  status           TEXT    NOT NULL DEFAULT 'offline',
  last_seen        INTEGER,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);

CREATE TABLE device_status_changes (
  id         INTEGER PRIMARY KEY,
  device_id  INTEGER NOT NULL,
  old_status TEXT    NOT NULL,
  new_status TEXT    NOT NULL,
  reason     TEXT    NOT NULL DEFAULT '',
  ts         INTEGER NOT NULL
);
CREATE INDEX device_status_changes_device_ts ON device_status_changes (device_id, ts);

CREATE TABLE alert_rules (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  name        TEXT    NOT NULL,
  device_id   INTEGER,
  device_type TEXT,
  metric      TEXT    NOT NULL,
  condition   TEXT    NOT NULL,
  threshold   REAL    NOT NULL,
  severity    TEXT    NOT NULL DEFAULT 'warning',
  alert_type  TEXT    NOT NULL DEFAULT 'threshold',
  duration_ms INTEGER NOT NULL DEFAULT 0,
  cooldown_ms INTEGER NOT NULL DEFAULT 0,
  enabled     INTEGER NOT NULL DEFAULT 1,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

-- No foreign key to devices: deleting a device keeps its alerts (history stays).
CREATE TABLE alerts (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id       INTEGER NOT NULL,
  severity        TEXT    NOT NULL,
  alert_type      TEXT    NOT NULL,
  title           TEXT    NOT NULL DEFAULT '',
  message         TEXT    NOT NULL DEFAULT '',
  status          TEXT    NOT NULL DEFAULT 'active',
  ts              INTEGER NOT NULL,
  metadata        TEXT    NOT NULL DEFAULT '{}',
  rule_id         INTEGER,
  acknowledged_at INTEGER,
  acknowledged_by TEXT    NOT NULL DEFAULT '',
  resolved_at     INTEGER,
  resolved_by     TEXT    NOT NULL DEFAULT '',
  notes           TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX alerts_status ON alerts (status);
CREATE INDEX alerts_device_id ON alerts (device_id, id);

CREATE TABLE latest_metrics (
  device_id INTEGER NOT NULL,
  metric    TEXT    NOT NULL,
  value     REAL    NOT NULL,
  unit      TEXT    NOT NULL DEFAULT '',
  ts        INTEGER NOT NULL,
  PRIMARY KEY (device_id, metric)
) WITHOUT ROWID;

CREATE TABLE telemetry_history (
  device_id INTEGER NOT NULL,
  metric    TEXT    NOT NULL,
  value     REAL    NOT NULL,
  ts        INTEGER NOT NULL
);
CREATE INDEX telemetry_history_device_metric_ts ON telemetry_history (device_id, metric, ts);
)~";

// Schema version 2: alert retention (alerts.retention).
// - alert_retention.max_pruned_id: the largest id of an alert that retention deleted (0: none).
//   Retention deletes resolved alerts only, out of id order (an old alert may stay active for
//   months), so the smallest id left does not tell what is gone: a since_alert_id replay is
//   complete only if nothing after its since_id was pruned, i.e. since_id >= max_pruned_id.
// - alerts_status_resolved_at replaces alerts_status: by status, then resolution time, so that
//   each pruning batch reads only the rows it deletes (and status filters use its prefix).
inline constexpr char kSchemaV2[] = R"~(
CREATE TABLE alert_retention (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  max_pruned_id INTEGER NOT NULL
);
INSERT INTO alert_retention (id, max_pruned_id) VALUES (1, 0);
CREATE INDEX alerts_status_resolved_at ON alerts (status, COALESCE(resolved_at, ts));
DROP INDEX alerts_status;
)~";

// Schema version 3 (issue 14): per-minute rollups of telemetry_history, from which every
// history interval (1m .. 1d) is computed: a 24-hour, 1-minute series of one metric reads 1 440
// rows of the primary key instead of 86 400 readings. `minute` is the bucket's start (ms, a
// multiple of 60 000 since the epoch: floor, also before 1970); n, vsum, vmin, vmax aggregate the
// readings of that minute. append_history keeps it, retention prunes it (by `minute`, hence the
// second index). The backfill folds the readings already stored.
inline constexpr char kSchemaV3[] = R"~(
CREATE TABLE telemetry_minutes (
  device_id INTEGER NOT NULL,
  metric    TEXT    NOT NULL,
  minute    INTEGER NOT NULL,
  n         INTEGER NOT NULL,
  vsum      REAL    NOT NULL,
  vmin      REAL    NOT NULL,
  vmax      REAL    NOT NULL,
  PRIMARY KEY (device_id, metric, minute)
) WITHOUT ROWID;
CREATE INDEX telemetry_minutes_minute ON telemetry_minutes (minute);
INSERT INTO telemetry_minutes (device_id, metric, minute, n, vsum, vmin, vmax)
SELECT device_id, metric, ts - ((ts % 60000) + 60000) % 60000, COUNT(*), SUM(value), MIN(value),
       MAX(value)
FROM telemetry_history GROUP BY 1, 2, 3;
)~";

// Schema version 4 (issue 12): duration windows in progress, per (rule, device): the condition
// holds since `since` (ms), as `value` showed, and has not yet for the rule's duration. Written
// when a window opens and deleted when it ends, so that a restarted node or one taking the
// device over resumes the window instead of starting the duration again.
inline constexpr char kSchemaV4[] = R"~(
CREATE TABLE rule_windows (
  rule_id   INTEGER NOT NULL,
  device_id INTEGER NOT NULL,
  since     INTEGER NOT NULL,
  value     REAL    NOT NULL,
  PRIMARY KEY (rule_id, device_id)
) WITHOUT ROWID;
)~";

// ---- devices ----
inline constexpr char kSelectDevices[] = R"~(
SELECT id, name, device_type, location, manufacturer, model, firmware_version, metadata, status,
       last_seen, created_at, updated_at
FROM devices ORDER BY id
)~";
inline constexpr char kSelectDeviceById[] = R"~(
SELECT id, name, device_type, location, manufacturer, model, firmware_version, metadata, status,
       last_seen, created_at, updated_at
FROM devices WHERE id = ?1
)~";
// A device its first reading registers: nothing when the id exists (another node of a cluster
// registered it first); both engines take ON CONFLICT DO NOTHING.
inline constexpr char kInsertDeviceIfAbsent[] = R"~(
INSERT INTO devices (id, name, device_type, location, manufacturer, model, firmware_version,
                     metadata, status, last_seen, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
ON CONFLICT (id) DO NOTHING
)~";
// ?1 is NULL to let the database choose the id (SQLite: the largest + 1).
inline constexpr char kInsertDevice[] = R"~(
INSERT INTO devices (id, name, device_type, location, manufacturer, model, firmware_version,
                     metadata, status, last_seen, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
RETURNING id
)~";
inline constexpr char kUpdateDevice[] = R"~(
UPDATE devices SET name = ?2, device_type = ?3, location = ?4, manufacturer = ?5, model = ?6,
                   firmware_version = ?7, metadata = ?8, status = ?9, last_seen = ?10,
                   created_at = ?11, updated_at = ?12
WHERE id = ?1
)~";
inline constexpr char kDeleteDevice[] = "DELETE FROM devices WHERE id = ?1";
// A deleted device's latest values, status history and telemetry history go with it (a device
// created again with the same id starts clean); its alerts stay.
inline constexpr char kDeleteDeviceLatestMetrics[] =
    "DELETE FROM latest_metrics WHERE device_id = ?1";
inline constexpr char kDeleteDeviceStatusChanges[] =
    "DELETE FROM device_status_changes WHERE device_id = ?1";
inline constexpr char kDeleteDeviceHistory[] = "DELETE FROM telemetry_history WHERE device_id = ?1";
// ?3 NULL keeps the stored last_seen.
inline constexpr char kUpdateDeviceStatus[] = R"~(
UPDATE devices SET status = ?2, last_seen = COALESCE(?3, last_seen), updated_at = ?4 WHERE id = ?1
)~";
inline constexpr char kUpdateDeviceLastSeen[] = "UPDATE devices SET last_seen = ?2 WHERE id = ?1";

inline constexpr char kInsertStatusChange[] = R"~(
INSERT INTO device_status_changes (device_id, old_status, new_status, reason, ts)
VALUES (?1, ?2, ?3, ?4, ?5)
)~";

// ---- alert rules ----
inline constexpr char kSelectRules[] = R"~(
SELECT id, name, device_id, device_type, metric, condition, threshold, severity, alert_type,
       duration_ms, cooldown_ms, enabled, created_at, updated_at
FROM alert_rules ORDER BY id
)~";
inline constexpr char kInsertRule[] = R"~(
INSERT INTO alert_rules (id, name, device_id, device_type, metric, condition, threshold, severity,
                         alert_type, duration_ms, cooldown_ms, enabled, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
RETURNING id
)~";
inline constexpr char kUpdateRule[] = R"~(
UPDATE alert_rules SET name = ?2, device_id = ?3, device_type = ?4, metric = ?5, condition = ?6,
                       threshold = ?7, severity = ?8, alert_type = ?9, duration_ms = ?10,
                       cooldown_ms = ?11, enabled = ?12, created_at = ?13, updated_at = ?14
WHERE id = ?1
)~";
inline constexpr char kDeleteRule[] = "DELETE FROM alert_rules WHERE id = ?1";

// ---- alerts ----
inline constexpr char kInsertAlert[] = R"~(
INSERT INTO alerts (device_id, severity, alert_type, title, message, status, ts, metadata, rule_id,
                    acknowledged_at, acknowledged_by, resolved_at, resolved_by, notes)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
RETURNING id
)~";
inline constexpr char kUpdateAlertState[] = R"~(
UPDATE alerts SET status = ?2, acknowledged_at = ?3, acknowledged_by = ?4, resolved_at = ?5,
                  resolved_by = ?6, notes = ?7
WHERE id = ?1
)~";
// Column list shared by every alert SELECT (read by read_alert in repositories.cpp).
#define VALTRONICS_ALERT_COLUMNS                                                                \
  "SELECT id, device_id, severity, alert_type, title, message, status, ts, metadata, rule_id, " \
  "acknowledged_at, acknowledged_by, resolved_at, resolved_by, notes FROM alerts"
inline constexpr char kSelectAlertById[] = VALTRONICS_ALERT_COLUMNS " WHERE id = ?1";
inline constexpr char kSelectLastRuleAlerts[] =
    "SELECT rule_id, device_id, MAX(ts) FROM alerts WHERE rule_id IS NOT NULL "
    "GROUP BY rule_id, device_id";
// ---- rule windows (schema version 4) ----
inline constexpr char kUpsertRuleWindow[] =
    "INSERT INTO rule_windows (rule_id, device_id, since, value) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (rule_id, device_id) DO UPDATE SET since = excluded.since, value = excluded.value";
inline constexpr char kDeleteRuleWindow[] =
    "DELETE FROM rule_windows WHERE rule_id = ?1 AND device_id = ?2";
inline constexpr char kSelectRuleWindows[] =
    "SELECT rule_id, device_id, since, value FROM rule_windows";
inline constexpr char kDeleteDeviceRuleWindows[] = "DELETE FROM rule_windows WHERE device_id = ?1";
inline constexpr char kSelectOpenAlerts[] =
    VALTRONICS_ALERT_COLUMNS " WHERE status IN ('active', 'acknowledged') ORDER BY id";
// list_alerts / count_alerts: one of these heads, then " WHERE " and the conditions joined by
// " AND ", each condition a fragment below with its placeholders, then (list only) the tail.
inline constexpr char kSelectAlertsHead[] = VALTRONICS_ALERT_COLUMNS;
#undef VALTRONICS_ALERT_COLUMNS
inline constexpr char kCountAlertsHead[] = "SELECT COUNT(*) FROM alerts";
inline constexpr char kWhere[] = " WHERE ";
inline constexpr char kAnd[] = " AND ";
inline constexpr char kAlertStatusIn[] = "status IN (";  // + "?, ?, ?" + ")"
inline constexpr char kAlertSeverityIn[] = "severity IN (";
inline constexpr char kAlertTypeIn[] = "alert_type IN (";
inline constexpr char kAlertDeviceIdIn[] = "device_id IN (";
inline constexpr char kPlaceholder[] = "?";
inline constexpr char kListSeparator[] = ", ";
inline constexpr char kListEnd[] = ")";
inline constexpr char kAlertIdAfter[] = "id > ?";
inline constexpr char kAlertsOrderLimitOffset[] = " ORDER BY id ASC LIMIT ? OFFSET ?";

inline constexpr char kMaxAlertId[] = "SELECT COALESCE(MAX(id), 0) FROM alerts";
inline constexpr char kMinAlertId[] = "SELECT COALESCE(MIN(id), 0) FROM alerts";

// Alert retention (prune_resolved_alerts). An alert's resolution time is resolved_at, or its ts
// when a resolved row has none (the engine always sets it; a row written by hand may not). The
// expression matches index alerts_status_resolved_at (schema version 2) exactly, so the planner
// walks that index from the oldest resolution and stops after ?2 rows.
inline constexpr char kSelectPrunableAlerts[] = R"~(
SELECT id FROM alerts
WHERE status = 'resolved' AND COALESCE(resolved_at, ts) < ?1
ORDER BY COALESCE(resolved_at, ts), id LIMIT ?2
)~";
inline constexpr char kDeleteAlert[] = "DELETE FROM alerts WHERE id = ?1";
inline constexpr char kRaisePrunedAlertId[] =
    "UPDATE alert_retention SET max_pruned_id = ?1 WHERE id = 1 AND max_pruned_id < ?1";
inline constexpr char kMaxPrunedAlertId[] =
    "SELECT COALESCE(MAX(max_pruned_id), 0) FROM alert_retention";

// ---- metrics ----
inline constexpr char kSelectLatestMetrics[] = R"~(
SELECT device_id, metric, value, unit, ts FROM latest_metrics ORDER BY device_id, metric
)~";
inline constexpr char kSelectLatestMetricsOfDevice[] = R"~(
SELECT device_id, metric, value, unit, ts FROM latest_metrics WHERE device_id = ?1 ORDER BY metric
)~";
// Latest values and history rows, many rows per statement (up to 100: one round trip to
// PostgreSQL instead of one per row): head, then the row repeated with ", " between, then the
// tail (repositories.cpp builds them; bare ? placeholders number themselves in order). The
// newest written value wins (the engine writes readings in arrival order).
inline constexpr char kUpsertLatestMetricsHead[] =
    "INSERT INTO latest_metrics (device_id, metric, value, unit, ts) VALUES ";
inline constexpr char kLatestMetricRow[] = "(?, ?, ?, ?, ?)";
inline constexpr char kUpsertLatestMetricsTail[] =
    " ON CONFLICT (device_id, metric) DO UPDATE SET value = excluded.value, "
    "unit = excluded.unit, ts = excluded.ts";
inline constexpr char kInsertHistoryHead[] =
    "INSERT INTO telemetry_history (device_id, metric, value, ts) VALUES ";
inline constexpr char kHistoryRow[] = "(?, ?, ?, ?)";
// At most ?2 readings older than ?1. Rows are appended in arrival order, so the oldest are the
// first rowids and a scan finds a batch at the start of the table.
inline constexpr char kPruneHistory[] = R"~(
DELETE FROM telemetry_history
WHERE rowid IN (SELECT rowid FROM telemetry_history WHERE ts < ?1 LIMIT ?2)
)~";

// ---- telemetry history reads (issue 14; store::history_*) ----
// Per-minute rollups, many rows per statement as above; a statement never holds one key twice
// (append_history folds a batch per (device, metric, minute) first). SQLite's two-argument
// min()/max() are scalar; PostgreSQL's tail uses LEAST/GREATEST.
inline constexpr char kUpsertMinutesHead[] =
    "INSERT INTO telemetry_minutes (device_id, metric, minute, n, vsum, vmin, vmax) VALUES ";
inline constexpr char kMinuteRow[] = "(?, ?, ?, ?, ?, ?, ?)";
inline constexpr char kUpsertMinutesTail[] =
    " ON CONFLICT (device_id, metric, minute) DO UPDATE SET "
    "n = telemetry_minutes.n + excluded.n, vsum = telemetry_minutes.vsum + excluded.vsum, "
    "vmin = min(telemetry_minutes.vmin, excluded.vmin), "
    "vmax = max(telemetry_minutes.vmax, excluded.vmax)";
// At most ?2 rollup minutes starting at or before ?1 (the caller passes the history's cut minus
// 60 000: every reading such a minute folds is older than the cut), the oldest first through
// index telemetry_minutes_minute.
inline constexpr char kPruneMinutes[] = R"~(
DELETE FROM telemetry_minutes
WHERE (device_id, metric, minute) IN (
  SELECT device_id, metric, minute FROM telemetry_minutes WHERE minute <= ?1
  ORDER BY minute LIMIT ?2)
)~";
inline constexpr char kDeleteDeviceMinutes[] = "DELETE FROM telemetry_minutes WHERE device_id = ?1";
// One series' buckets from its rollups: minutes in [?3, ?4) (both multiples of 60 000), grouped
// by the bucket of ?5 ms they fall in (floor, aligned to the epoch).
inline constexpr char kSelectMinuteBuckets[] = R"~(
SELECT minute - ((minute % ?5) + ?5) % ?5 AS bucket, SUM(n), SUM(vsum), MIN(vmin), MAX(vmax)
FROM telemetry_minutes
WHERE device_id = ?1 AND metric = ?2 AND minute >= ?3 AND minute < ?4
GROUP BY bucket ORDER BY bucket
)~";
// One series' raw readings in [?3, ?4) folded by bucket (the partial minutes at a range's edges).
inline constexpr char kSelectRawBuckets[] = R"~(
SELECT ts - ((ts % ?5) + ?5) % ?5 AS bucket, COUNT(*), SUM(value), MIN(value), MAX(value)
FROM telemetry_history
WHERE device_id = ?1 AND metric = ?2 AND ts >= ?3 AND ts < ?4
GROUP BY bucket ORDER BY bucket
)~";
// Raw lists: a head, then " WHERE " and conditions joined by " AND " (the fragments below and
// kAlertDeviceIdIn's list form), then an order and LIMIT/OFFSET. Rows are ordered completely
// (ts, then device, metric, value), so pages never overlap or skip.
inline constexpr char kSelectHistoryHead[] =
    "SELECT device_id, metric, value, ts FROM telemetry_history";
inline constexpr char kCountHistoryHead[] = "SELECT COUNT(*) FROM telemetry_history";
inline constexpr char kHistoryDeviceIdIn[] = "device_id IN (";
inline constexpr char kHistoryMetricIs[] = "metric = ?";
inline constexpr char kHistoryTsFrom[] = "ts >= ?";
inline constexpr char kHistoryTsBefore[] = "ts < ?";
inline constexpr char kHistoryNewestFirst[] =
    " ORDER BY ts DESC, device_id, metric, value LIMIT ? OFFSET ?";
inline constexpr char kHistoryOldestFirst[] =
    " ORDER BY ts ASC, device_id, metric, value LIMIT ? OFFSET ?";
// The export (store::export_history): one series (device, metric) at a time, in ts order, each
// piece an index seek on (device_id, metric, ts) whatever the filter; the next series found by
// seeks on the same index. `value` orders readings of one ts: rows equal in all four columns are
// indistinguishable, so resuming by OFFSET among them is exact.
inline constexpr char kExportSeriesRange[] = R"~(
SELECT value, ts FROM telemetry_history
WHERE device_id = ?1 AND metric = ?2 AND ts >= ?3 AND ts < ?4
ORDER BY ts, value LIMIT ?5 OFFSET ?6
)~";
inline constexpr char kHistoryNextDevice[] =
    "SELECT device_id FROM telemetry_history WHERE device_id > ?1 ORDER BY device_id LIMIT 1";
inline constexpr char kHistoryNextMetric[] =
    "SELECT metric FROM telemetry_history WHERE device_id = ?1 AND metric > ?2 "
    "ORDER BY metric LIMIT 1";
inline constexpr char kDeviceExists[] = "SELECT COUNT(*) FROM devices WHERE id = ?1";

// ---- PostgreSQL ----
// The statements whose SQL differs there; every other constant above is written in the SQL both
// speak (placeholders ?N become $N when a PostgreSQL statement is prepared: store/placeholders).
// The schema is the same tables, columns and indexes; SQLite's INTEGER (64-bit) is BIGINT, its
// REAL is DOUBLE PRECISION, and its rowid ids are identity columns.
namespace pg {

// The schema version lives in a table of its own (SQLite keeps it in PRAGMA user_version).
inline constexpr char kCreateSchemaVersion[] =
    "CREATE TABLE IF NOT EXISTS valtronics_schema_version (version INTEGER NOT NULL)";
inline constexpr char kGetSchemaVersion[] =
    "SELECT COALESCE(MAX(version), 0) FROM valtronics_schema_version";
inline constexpr char kSetSchemaVersion[] =
    "DELETE FROM valtronics_schema_version; INSERT INTO valtronics_schema_version VALUES (";
// Held by a migration's transaction: nodes starting together migrate one after the other (a
// transaction-scoped advisory lock; the number is arbitrary, fixed for Valtronics).
inline constexpr char kMigrationLock[] = "SELECT pg_advisory_xact_lock(7731201)";
// (cluster) Taken by each alert insert until its transaction commits: the nodes' alert inserts
// commit one at a time, so ids (from the sequence) are in commit order, and a client replaying
// since an id never misses an alert committed later with a smaller one.
inline constexpr char kAlertOrderLock[] = "SELECT pg_advisory_xact_lock(7731202)";
// (cluster) Taken by a node choosing a new device id (the largest + 1) until it commits.
inline constexpr char kDeviceIdLock[] = "SELECT pg_advisory_xact_lock(7731203)";

inline constexpr char kSchemaV1[] = R"~(
CREATE TABLE devices (
  id               BIGINT  PRIMARY KEY,
  name             TEXT    NOT NULL,
  device_type      TEXT    NOT NULL DEFAULT 'sensor',
  location         TEXT    NOT NULL DEFAULT '',
  manufacturer     TEXT    NOT NULL DEFAULT '',
  model            TEXT    NOT NULL DEFAULT '',
  firmware_version TEXT    NOT NULL DEFAULT '',
  metadata         TEXT    NOT NULL DEFAULT '{}',
  status           TEXT    NOT NULL DEFAULT 'offline',
  last_seen        BIGINT,
  created_at       BIGINT  NOT NULL,
  updated_at       BIGINT  NOT NULL
);

CREATE TABLE device_status_changes (
  id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  device_id  BIGINT NOT NULL,
  old_status TEXT   NOT NULL,
  new_status TEXT   NOT NULL,
  reason     TEXT   NOT NULL DEFAULT '',
  ts         BIGINT NOT NULL
);
CREATE INDEX device_status_changes_device_ts ON device_status_changes (device_id, ts);

CREATE TABLE alert_rules (
  id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name        TEXT    NOT NULL,
  device_id   BIGINT,
  device_type TEXT,
  metric      TEXT    NOT NULL,
  condition   TEXT    NOT NULL,
  threshold   DOUBLE PRECISION NOT NULL,
  severity    TEXT    NOT NULL DEFAULT 'warning',
  alert_type  TEXT    NOT NULL DEFAULT 'threshold',
  duration_ms BIGINT  NOT NULL DEFAULT 0,
  cooldown_ms BIGINT  NOT NULL DEFAULT 0,
  enabled     BIGINT  NOT NULL DEFAULT 1,
  created_at  BIGINT  NOT NULL,
  updated_at  BIGINT  NOT NULL
);

CREATE TABLE alerts (
  id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  device_id       BIGINT NOT NULL,
  severity        TEXT   NOT NULL,
  alert_type      TEXT   NOT NULL,
  title           TEXT   NOT NULL DEFAULT '',
  message         TEXT   NOT NULL DEFAULT '',
  status          TEXT   NOT NULL DEFAULT 'active',
  ts              BIGINT NOT NULL,
  metadata        TEXT   NOT NULL DEFAULT '{}',
  rule_id         BIGINT,
  acknowledged_at BIGINT,
  acknowledged_by TEXT   NOT NULL DEFAULT '',
  resolved_at     BIGINT,
  resolved_by     TEXT   NOT NULL DEFAULT '',
  notes           TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX alerts_status ON alerts (status);
CREATE INDEX alerts_device_id ON alerts (device_id, id);

CREATE TABLE latest_metrics (
  device_id BIGINT NOT NULL,
  metric    TEXT   NOT NULL,
  value     DOUBLE PRECISION NOT NULL,
  unit      TEXT   NOT NULL DEFAULT '',
  ts        BIGINT NOT NULL,
  PRIMARY KEY (device_id, metric)
);

CREATE TABLE telemetry_history (
  device_id BIGINT NOT NULL,
  metric    TEXT   NOT NULL,
  value     DOUBLE PRECISION NOT NULL,
  ts        BIGINT NOT NULL
);
CREATE INDEX telemetry_history_device_metric_ts ON telemetry_history (device_id, metric, ts);
)~";

inline constexpr char kSchemaV2[] = R"~(
CREATE TABLE alert_retention (
  id            BIGINT PRIMARY KEY CHECK (id = 1),
  max_pruned_id BIGINT NOT NULL
);
INSERT INTO alert_retention (id, max_pruned_id) VALUES (1, 0);
CREATE INDEX alerts_status_resolved_at ON alerts (status, COALESCE(resolved_at, ts));
DROP INDEX alerts_status;
)~";

inline constexpr char kSchemaV3[] = R"~(
CREATE TABLE telemetry_minutes (
  device_id BIGINT NOT NULL,
  metric    TEXT   NOT NULL,
  minute    BIGINT NOT NULL,
  n         BIGINT NOT NULL,
  vsum      DOUBLE PRECISION NOT NULL,
  vmin      DOUBLE PRECISION NOT NULL,
  vmax      DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (device_id, metric, minute)
);
CREATE INDEX telemetry_minutes_minute ON telemetry_minutes (minute);
INSERT INTO telemetry_minutes (device_id, metric, minute, n, vsum, vmin, vmax)
SELECT device_id, metric, ts - ((ts % 60000) + 60000) % 60000, COUNT(*), SUM(value), MIN(value),
       MAX(value)
FROM telemetry_history GROUP BY 1, 2, 3;
)~";
inline constexpr char kSchemaV4[] = R"~(
CREATE TABLE rule_windows (
  rule_id   BIGINT NOT NULL,
  device_id BIGINT NOT NULL,
  since     BIGINT NOT NULL,
  value     DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (rule_id, device_id)
);
)~";
inline constexpr char kUpsertMinutesTail[] =
    " ON CONFLICT (device_id, metric, minute) DO UPDATE SET "
    "n = telemetry_minutes.n + excluded.n, vsum = telemetry_minutes.vsum + excluded.vsum, "
    "vmin = LEAST(telemetry_minutes.vmin, excluded.vmin), "
    "vmax = GREATEST(telemetry_minutes.vmax, excluded.vmax)";

// A NULL id takes the largest + 1, as SQLite's INTEGER PRIMARY KEY does (devices are mostly
// named by their id; an identity sequence would not know of those).
inline constexpr char kInsertDevice[] = R"~(
INSERT INTO devices (id, name, device_type, location, manufacturer, model, firmware_version,
                     metadata, status, last_seen, created_at, updated_at)
VALUES (COALESCE(?1, (SELECT COALESCE(MAX(id), 0) + 1 FROM devices)), ?2, ?3, ?4, ?5, ?6, ?7,
        ?8, ?9, ?10, ?11, ?12)
RETURNING id
)~";
// A NULL id takes the next of the identity's sequence (never reused, as SQLite's AUTOINCREMENT).
inline constexpr char kInsertRule[] = R"~(
INSERT INTO alert_rules (id, name, device_id, device_type, metric, condition, threshold, severity,
                         alert_type, duration_ms, cooldown_ms, enabled, created_at, updated_at)
VALUES (COALESCE(?1, nextval(pg_get_serial_sequence('alert_rules', 'id'))), ?2, ?3, ?4, ?5, ?6,
        ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
RETURNING id
)~";
// No rowid: the physical row id (ctid) picks the batch.
inline constexpr char kPruneHistory[] = R"~(
DELETE FROM telemetry_history
WHERE ctid IN (SELECT ctid FROM telemetry_history WHERE ts < ?1 LIMIT ?2)
)~";

}  // namespace pg

}  // namespace valtronics::store::sql

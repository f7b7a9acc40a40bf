-- 001_init.sql: the first earshot alert store schema.
--
-- Applied by es_store_open() inside one transaction, after which
-- PRAGMA user_version is 1. Never edit a migration once released: add the
-- next numbered file instead. Column meanings: docs/schema.md.
--
-- Times are REAL seconds since the Unix epoch (UTC); analysts convert with
-- datetime(ts, 'unixepoch') or datetime(ts, 'unixepoch', 'localtime').
-- Transcript text is masked (docs/redaction.md) before it is stored.

PRAGMA application_id = 1163085908; -- 0x45534854, "ESHT": an earshot store

-- One row per call, written when the call starts and completed when it ends.
CREATE TABLE calls (
  call_id          TEXT PRIMARY KEY NOT NULL,
  attributes       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes)),
  agent            TEXT,
  queue            TEXT,
  started          REAL,
  ended            REAL,
  end_reason       TEXT CHECK (end_reason IN ('ended', 'abandoned', 'shutdown')),
  alert_count      INTEGER,
  peak_heat        REAL,
  final_heat       REAL,
  hits_by_category TEXT CHECK (hits_by_category IS NULL OR json_valid(hits_by_category)),
  backup_raised    INTEGER CHECK (backup_raised IN (0, 1)),
  deescalated      INTEGER CHECK (deescalated IN (0, 1))
);

-- One row per alert. alert_key makes a resent line idempotent.
CREATE TABLE alerts (
  id          INTEGER PRIMARY KEY,
  alert_key   TEXT NOT NULL UNIQUE,
  call_id     TEXT NOT NULL,
  ts          REAL NOT NULL,
  call_ts     REAL,
  rule_id     TEXT NOT NULL,
  category    TEXT,
  severity    TEXT NOT NULL
              CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
  speaker     TEXT CHECK (speaker IN ('agent', 'customer')),
  text        TEXT,
  match_start INTEGER CHECK (match_start >= 0),
  match_end   INTEGER CHECK (match_end >= match_start),
  matched     TEXT,
  tip         TEXT,
  heat        REAL,
  rule_set    TEXT,
  reason      TEXT CHECK (reason IS NULL OR json_valid(reason))
);

-- Every rule set the daemon has run with, by version hash.
CREATE TABLE rule_sets (
  version        TEXT PRIMARY KEY NOT NULL,
  loaded_at      REAL NOT NULL,
  last_loaded_at REAL NOT NULL,
  files          TEXT NOT NULL CHECK (json_valid(files)),
  rule_count     INTEGER NOT NULL CHECK (rule_count >= 0)
);

-- Indexes for the analysts' usual questions (docs/schema.md).
CREATE INDEX alerts_by_ts          ON alerts (ts);
CREATE INDEX alerts_by_rule_ts     ON alerts (rule_id, ts);
CREATE INDEX alerts_by_call_ts     ON alerts (call_id, ts);
CREATE INDEX alerts_by_category_ts ON alerts (category, ts);
CREATE INDEX calls_by_agent_started ON calls (agent, started);
CREATE INDEX calls_by_started      ON calls (started);

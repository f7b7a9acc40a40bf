-- 003_marks_search.sql: analysts' feedback marks, full-text search over the
-- stored alert text, and views for the questions analysts ask most.
--
-- Everything here is kept up to date by triggers on `alerts`, so the
-- daemon's inserts (and es_store_prune()'s deletes) need no code of their
-- own. Column meanings and example queries: docs/schema.md.

-- Feedback on alerts: one row per mark, never updated; the latest mark of
-- an alert (alert_mark_latest) is its current state. es_store_mark()
-- (`earshot ack`) writes them; es_store_prune() deletes them with their
-- alerts.
CREATE TABLE alert_marks (
  id        INTEGER PRIMARY KEY,
  alert_id  INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  mark      TEXT NOT NULL CHECK (mark IN ('taken', 'resolved', 'false_positive')),
  marked_by TEXT,
  marked_at REAL NOT NULL,
  note      TEXT
);

CREATE INDEX alert_marks_by_alert ON alert_marks (alert_id, marked_at);

-- Foreign keys are off in SQLite unless a connection turns them on: this
-- trigger removes the marks of a deleted alert either way.
CREATE TRIGGER alerts_delete_marks AFTER DELETE ON alerts BEGIN
  DELETE FROM alert_marks WHERE alert_id = old.id;
END;

-- The latest mark of every marked alert (ties on marked_at: the later row).
CREATE VIEW alert_mark_latest AS
SELECT m.alert_id,
       m.mark,
       m.marked_by,
       m.marked_at,
       datetime(m.marked_at, 'unixepoch') AS marked_utc,
       m.note
FROM alert_marks AS m
WHERE m.id = (SELECT l.id FROM alert_marks AS l
              WHERE l.alert_id = m.alert_id
              ORDER BY l.marked_at DESC, l.id DESC
              LIMIT 1);

-- Full-text index over the stored (masked) alert text: the line, the
-- matched words, the tip and the rule id (category and the other columns
-- are for filters). External content: the words are indexed, the text
-- itself stays in `alerts` only. Indexing costs the writer about 50
-- microseconds per alert (docs/schema.md).
CREATE VIRTUAL TABLE alert_search USING fts5 (
  text, matched, tip, rule_id,
  content = 'alerts',
  content_rowid = 'id',
  tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER alerts_search_insert AFTER INSERT ON alerts BEGIN
  INSERT INTO alert_search (rowid, text, matched, tip, rule_id)
  VALUES (new.id, new.text, new.matched, new.tip, new.rule_id);
END;

CREATE TRIGGER alerts_search_delete AFTER DELETE ON alerts BEGIN
  INSERT INTO alert_search (alert_search, rowid, text, matched, tip, rule_id)
  VALUES ('delete', old.id, old.text, old.matched, old.tip, old.rule_id);
END;

CREATE TRIGGER alerts_search_update AFTER UPDATE ON alerts BEGIN
  INSERT INTO alert_search (alert_search, rowid, text, matched, tip, rule_id)
  VALUES ('delete', old.id, old.text, old.matched, old.tip, old.rule_id);
  INSERT INTO alert_search (rowid, text, matched, tip, rule_id)
  VALUES (new.id, new.text, new.matched, new.tip, new.rule_id);
END;

-- Index the alerts stored before this migration.
INSERT INTO alert_search (alert_search) VALUES ('rebuild');

-- Alerts per agent per UTC day.
CREATE VIEW alerts_per_agent_day AS
SELECT date(a.ts, 'unixepoch') AS day,
       c.agent,
       count(*) AS alerts,
       count(DISTINCT a.call_id) AS calls,
       count(CASE WHEN a.severity IN ('high', 'critical') THEN 1 END) AS serious
FROM alerts AS a
LEFT JOIN calls AS c ON c.call_id = a.call_id
GROUP BY day, c.agent;

-- Calls for which a supervisor was asked to join, one row per backup
-- alert, with the JSON `reason` that raised it and how the call ended.
CREATE VIEW escalated_calls AS
SELECT a.call_id,
       c.agent,
       c.queue,
       datetime(a.ts, 'unixepoch') AS raised_utc,
       a.ts,
       a.id AS alert_id,
       a.rule_id,
       a.severity,
       a.heat,
       a.reason,
       c.peak_heat,
       c.final_heat,
       c.deescalated,
       c.end_reason
FROM alerts AS a
LEFT JOIN calls AS c ON c.call_id = a.call_id
WHERE a.category = 'backup';

-- Hits per rule per week (weeks start on Monday, UTC).
CREATE VIEW rule_hits_by_week AS
SELECT date(ts, 'unixepoch', 'weekday 0', '-6 days') AS week_start,
       rule_id,
       max(category) AS category,
       count(*) AS hits,
       count(DISTINCT call_id) AS calls
FROM alerts
GROUP BY week_start, rule_id;

-- Per rule: hits, alerts reviewed (with a mark), those whose latest mark
-- is false_positive, and the false-positive rate among the reviewed ones.
CREATE VIEW rule_false_positives AS
SELECT a.rule_id,
       max(a.category) AS category,
       count(*) AS hits,
       count(m.alert_id) AS reviewed,
       count(CASE WHEN m.mark = 'false_positive' THEN 1 END) AS false_positives,
       round(1.0 * count(CASE WHEN m.mark = 'false_positive' THEN 1 END)
             / nullif(count(m.alert_id), 0), 3) AS fp_rate
FROM alerts AS a
LEFT JOIN alert_mark_latest AS m ON m.alert_id = a.id
GROUP BY a.rule_id;

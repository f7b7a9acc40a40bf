-- 002_analyst_views.sql: read-only conveniences for QA analysts.
--
-- severity_levels ranks the severity names so that queries can sort and
-- filter by them; alert_view and call_view add readable UTC times and the
-- call's agent and queue to every alert. Column meanings: docs/schema.md.

CREATE TABLE severity_levels (
  name TEXT PRIMARY KEY NOT NULL,
  rank INTEGER NOT NULL UNIQUE
) WITHOUT ROWID;

INSERT INTO severity_levels (name, rank) VALUES
  ('info', 0), ('low', 1), ('medium', 2), ('high', 3), ('critical', 4);

CREATE VIEW alert_view AS
SELECT a.id,
       a.call_id,
       datetime(a.ts, 'unixepoch') AS time_utc,
       a.ts,
       a.call_ts,
       c.agent,
       c.queue,
       a.rule_id,
       a.category,
       a.severity,
       s.rank AS severity_rank,
       a.speaker,
       a.matched,
       a.text,
       a.tip,
       a.heat,
       a.reason,
       a.rule_set
FROM alerts AS a
LEFT JOIN calls AS c ON c.call_id = a.call_id
LEFT JOIN severity_levels AS s ON s.name = a.severity;

CREATE VIEW call_view AS
SELECT c.call_id,
       c.agent,
       c.queue,
       datetime(c.started, 'unixepoch') AS started_utc,
       datetime(c.ended, 'unixepoch') AS ended_utc,
       c.ended - c.started AS duration_s,
       c.end_reason,
       c.alert_count,
       (SELECT count(*) FROM alerts AS a WHERE a.call_id = c.call_id) AS stored_alerts,
       c.peak_heat,
       c.final_heat,
       c.backup_raised,
       c.deescalated,
       c.hits_by_category,
       c.attributes
FROM calls AS c;

-- 005_writer_cost.sql: what earshotd's writer pays per alert, cut from
-- about 400 to about 30 microseconds (bench/store.sh; docs/performance.md).
-- Nothing an analyst sees changes: the same constraints, the same index.
--
-- 1. The full-text index entry of a new alert is written by the store
--    (es_store_put_alert(), in the same transaction as the row), no longer
--    by the trigger alerts_search_insert. An INSERT that fires a trigger
--    runs inside a statement savepoint, and FTS5 flushes its pending terms
--    to a new on-disk segment at every savepoint: one segment, and the
--    merging that follows, per alert. Deletes and updates keep their
--    triggers (retention deletes in bulk, and nothing updates alerts).
--    An alert inserted by hand is therefore not indexed until
--    INSERT INTO alert_search (alert_search) VALUES ('rebuild').

DROP TRIGGER alerts_search_insert;

-- 2. The same CHECK constraints, written so that checking them costs
--    nothing.
--
-- SQLite evaluates `x IN ('a', 'b', 'c')` (three values or more) in a
-- CHECK constraint by building a temporary index of the list on every
-- row written: an 87 KB allocation, zeroed, then freed. On the writer
-- thread that was about 200 microseconds per call end and per alert, far
-- more than the row itself (bench/store.sh, docs/performance.md). The
-- rewritten constraints accept exactly the same values (an OR of
-- equalities, which SQLite evaluates in place).
--
-- Changing a CHECK constraint cannot be done with ALTER TABLE. This is the
-- procedure SQLite documents for it (lang_altertable.html, "making other
-- kinds of table schema changes"): edit the table's CREATE statement in
-- sqlite_schema, reload the schema, and change the schema version so that
-- every other connection reloads it too. Existing rows already satisfy
-- the new constraints, which are equivalent. es_store_open() runs this,
-- like every migration, in one transaction; a test checks that no write
-- statement builds a temporary index afterwards (tests/unit/test_store.c).

PRAGMA writable_schema = ON;

UPDATE sqlite_schema
SET sql = replace(sql,
  'CHECK (severity IN (''info'', ''low'', ''medium'', ''high'', ''critical''))',
  'CHECK (severity = ''info'' OR severity = ''low'' OR severity = ''medium'''
  || ' OR severity = ''high'' OR severity = ''critical'')')
WHERE type = 'table' AND name = 'alerts';

UPDATE sqlite_schema
SET sql = replace(sql,
  'CHECK (end_reason IN (''ended'', ''abandoned'', ''shutdown''))',
  'CHECK (end_reason = ''ended'' OR end_reason = ''abandoned'''
  || ' OR end_reason = ''shutdown'')')
WHERE type = 'table' AND name = 'calls';

UPDATE sqlite_schema
SET sql = replace(sql,
  'CHECK (mark IN (''taken'', ''resolved'', ''false_positive''))',
  'CHECK (mark = ''taken'' OR mark = ''resolved'' OR mark = ''false_positive'')')
WHERE type = 'table' AND name = 'alert_marks';

UPDATE sqlite_schema
SET sql = replace(sql,
  'CHECK (state IN (''pending'', ''suppressed'', ''failed''))',
  'CHECK (state = ''pending'' OR state = ''suppressed'' OR state = ''failed'')')
WHERE type = 'table' AND name = 'webhook_outbox';

-- Refuses to go on (and so rolls the migration back) if a statement above
-- found nothing to replace: the message names this constraint.
CREATE TEMP TABLE es_migration_005_guard (
  ok INTEGER CONSTRAINT every_check_rewritten_without_in CHECK (ok = 1)
);
INSERT INTO es_migration_005_guard
SELECT count(*) = 0 FROM sqlite_schema
WHERE type = 'table' AND name IN ('alerts', 'calls', 'alert_marks', 'webhook_outbox')
  AND (sql LIKE '%severity IN (%' OR sql LIKE '%end_reason IN (%'
       OR sql LIKE '%mark IN (%' OR sql LIKE '%state IN (%');
DROP TABLE es_migration_005_guard;

-- Turns schema writes off and makes this connection parse the edited
-- statements.
PRAGMA writable_schema = RESET;

-- Any schema change moves the schema version on, so that connections
-- other processes hold open (an analyst's sqlite3) reload the schema.
CREATE TABLE es_schema_bump (x);
DROP TABLE es_schema_bump;

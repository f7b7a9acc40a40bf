-- 007_restart.sql: what a restarted earshotd reads back from the store, so
-- that a crash (or kill -9) does not make it hand out an alert id twice or
-- reopen a call that had ended (docs/protocol.md, docs/schema.md).

-- Small values the daemon keeps across restarts, one row per name. The
-- only one so far:
--
--   alert_ids_reserved  earshotd publishes an alert's id (on the
--                       supervisor feed) before the alert is committed,
--                       and publishes only ids up to this value, raising
--                       it ahead of need in the same transactions as the
--                       alerts. After a crash it starts above both this
--                       and the largest stored id, so an id once published
--                       is never given to another alert, even when the
--                       crash lost the alert it was published for; the
--                       ids skipped leave a gap. A clean stop lowers it to
--                       the last id given out: no gap then.
CREATE TABLE daemon_state (
  name  TEXT PRIMARY KEY NOT NULL,
  value INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO daemon_state (name, value)
SELECT 'alert_ids_reserved', coalesce(max(id), 0) FROM alerts;

-- The calls that ended by their client's "end", latest first: earshotd
-- reads the last 4,096 when it starts (ES_CALLS_ENDED), so that a late or
-- resent line for one of them gets call_ended, as it would have before the
-- restart. Partial: calls still open, abandoned or closed at a shutdown
-- (which may go on) are not in it, and it costs the writer nothing for
-- them.
CREATE INDEX calls_ended_by_client ON calls (ended) WHERE end_reason = 'ended';

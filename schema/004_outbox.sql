-- 004_outbox.sql: the webhook outbox (docs/webhooks.md).
--
-- One row per alert per webhook destination that still needs attention.
-- earshotd's writer thread inserts the rows in the same transaction as
-- their alert (a crash never leaves a stored alert without its pending
-- deliveries) and records every outcome through the same writer:
--
--   pending     waiting for its next attempt at next_attempt_at (attempts
--               made so far in `attempts`, the last failure in last_error);
--   delivered   the receiver answered 2xx: the row is DELETED;
--   suppressed  over the destination's rate limit: not sent by itself; the
--               row waits until a message summarising it is delivered, and
--               is then deleted;
--   failed      max_attempts used up: kept, with last_error and closed_at,
--               until retention deletes its alert (or an operator does).
--
-- The payload is the request body as built when the alert was raised,
-- from the masked alert (docs/redaction.md): no unmasked personal data.

-- AUTOINCREMENT: ids are never reused, even after every row was deleted,
-- because earshotd reads new rows as "id greater than the last one read".
CREATE TABLE webhook_outbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  destination     TEXT NOT NULL,
  alert_id        INTEGER NOT NULL,
  payload         TEXT NOT NULL,
  state           TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'suppressed', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at REAL NOT NULL,
  last_error      TEXT,
  created_at      REAL NOT NULL,
  closed_at       REAL,
  UNIQUE (alert_id, destination)
);

-- earshotd loads pending rows by id at startup and after each commit.
CREATE INDEX webhook_outbox_by_state ON webhook_outbox (state, id);

-- Retention (es_store_prune) deletes old alerts; their failed deliveries
-- go with them. Pending and suppressed rows stay: they are still owed.
CREATE TRIGGER alerts_delete_failed_deliveries AFTER DELETE ON alerts BEGIN
  DELETE FROM webhook_outbox WHERE alert_id = old.id AND state = 'failed';
END;

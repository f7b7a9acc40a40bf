-- 006_search_merge.sql: the full-text index merges its on-disk segments
-- eight at a time instead of FTS5's default four. Nothing an analyst sees
-- changes: the same index, the same answers.
--
-- Every commit of earshotd's writer adds one segment to alert_search, and
-- FTS5 merges segments as they accumulate ('automerge': how many segments
-- of one level it waits for before merging them into the next). Merging
-- was a quarter of what the writer pays per alert. At 8, the writer runs
-- 8% less CPU per alert (bench/store.sh --batch 4000: 20.1-20.6 to
-- 18.3-19.0 us) and no commit takes longer than before (the longest 37-38
-- ms against 40-44; at 16 the saving is the same but a commit can take 150
-- ms, which every ack would wait for). Searches visit a few more segments:
-- on 200,000 alerts a MATCH took 0.01-0.02 s either way.
--
-- The setting lives in the index's own configuration table
-- (alert_search_config); this is the way FTS5 documents to change it.

INSERT INTO alert_search (alert_search, rank) VALUES ('automerge', 8);

-- A running execution carries a lease, renewed by its process;
-- NULL on rows written before leases (their started_at stands in).
ALTER TABLE job_executions ADD COLUMN heartbeat_at TIMESTAMP;

-- Snapshot reads are by playlist (list, count of manual ones, undo, prune);
-- the index that existed starts with user_id, which those queries do not
-- filter on, so they scanned. Measured in tests/api/query_plans.rs.
CREATE INDEX ix_snapshots_playlist_created ON playlist_snapshots (playlist_id, created_at);

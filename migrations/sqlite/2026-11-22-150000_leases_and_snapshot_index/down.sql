DROP INDEX ix_snapshots_playlist_created;
ALTER TABLE job_executions DROP COLUMN heartbeat_at;

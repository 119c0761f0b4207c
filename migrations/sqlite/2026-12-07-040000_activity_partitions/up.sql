-- Partitioning activity_log is PostgreSQL's alone: SQLite keeps one table.
-- What both backends share: reads by id are bounded in time too (on
-- PostgreSQL so that they look only in the newest partitions), so a
-- webhook's cursor keeps its row's time beside its id, and a delivery the
-- time of the row it delivers (NULL, unbounded, for those made before).
ALTER TABLE webhooks ADD COLUMN last_activity_at TIMESTAMP;
ALTER TABLE webhook_deliveries ADD COLUMN activity_created_at TIMESTAMP;

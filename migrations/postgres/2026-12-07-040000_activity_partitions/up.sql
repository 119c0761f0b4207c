-- activity_log becomes range-partitioned by month of created_at, so that
-- retention forgets a month by dropping its partition instead of deleting
-- its rows one by one (docs/architecture.md, "Partitions").
--
-- The columns, the sequence and every index stay as they were (the indexes
-- now partitioned indexes). A partitioned table's unique key must hold the
-- partition key, so the primary key is (id, created_at); ids stay unique
-- because one sequence still draws them all. No table refers to
-- activity_log by a foreign key (webhook deliveries keep activity_id as a
-- plain column).
--
-- Partitions: one per month that has rows, this month and the three after
-- it, and a DEFAULT partition that takes a row of any other time (a
-- back-dated import, the demo trail, a restore). The service's upkeep adds
-- months ahead from then on, moving a month's rows out of DEFAULT when it
-- creates that month (src/db/partitions.rs). Partitions are named
-- activity_log_pYYYY_MM and activity_log_default.
ALTER TABLE activity_log RENAME TO activity_log_unpartitioned;
ALTER TABLE activity_log_unpartitioned
    RENAME CONSTRAINT activity_log_pkey TO activity_log_unpartitioned_pkey;
DROP INDEX ix_activity_user_id, ix_activity_type, ix_activity_created_at,
    ix_activity_user_created, ix_activity_user_created_id,
    ix_activity_user_created_type, ix_activity_user_id_id;
ALTER SEQUENCE activity_log_id_seq OWNED BY NONE;

CREATE TABLE activity_log (
    id BIGINT NOT NULL DEFAULT nextval('activity_log_id_seq'),
    user_id BIGINT NOT NULL
        CONSTRAINT activity_log_user_id_fkey REFERENCES users(id) ON DELETE CASCADE,
    activity_type VARCHAR(50) NOT NULL,
    description VARCHAR(500) NOT NULL,
    playlist_id TEXT,
    playlist_name TEXT,
    actor_type VARCHAR(20) NOT NULL,
    actor_name TEXT,
    metadata TEXT,
    created_at TIMESTAMP NOT NULL,
    request_id TEXT,
    ip_address TEXT,
    user_agent TEXT,
    session_id BIGINT,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
ALTER SEQUENCE activity_log_id_seq OWNED BY activity_log.id;

CREATE TABLE activity_log_default PARTITION OF activity_log DEFAULT;

DO $$
DECLARE
    month TIMESTAMP;
BEGIN
    FOR month IN
        SELECT DISTINCT date_trunc('month', created_at) FROM activity_log_unpartitioned
        WHERE created_at >= TIMESTAMP '0001-01-01'
        UNION
        SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => ahead)
        FROM generate_series(0, 3) AS ahead
    LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF activity_log FOR VALUES FROM (%L) TO (%L)',
            'activity_log_p' || to_char(month, 'YYYY_MM'),
            month,
            month + INTERVAL '1 month'
        );
    END LOOP;
END
$$;

INSERT INTO activity_log (id, user_id, activity_type, description, playlist_id,
    playlist_name, actor_type, actor_name, metadata, created_at, request_id,
    ip_address, user_agent, session_id)
SELECT id, user_id, activity_type, description, playlist_id, playlist_name,
    actor_type, actor_name, metadata, created_at, request_id, ip_address,
    user_agent, session_id
FROM activity_log_unpartitioned;
DROP TABLE activity_log_unpartitioned;

-- Built after the rows are in: one sort per partition, not an insert each.
CREATE INDEX ix_activity_user_id ON activity_log (user_id);
CREATE INDEX ix_activity_type ON activity_log (activity_type);
CREATE INDEX ix_activity_created_at ON activity_log (created_at);
-- Every read of a user's trail: newest first by (created_at, id).
CREATE INDEX ix_activity_user_created ON activity_log (user_id, created_at);
-- The keyset page (created_at, id) < (t, i) needs id in the index to stop early.
CREATE INDEX ix_activity_user_created_id ON activity_log (user_id, created_at, id);
-- The summary's per-day, per-type counts, from the index alone.
CREATE INDEX ix_activity_user_created_type ON activity_log (user_id, created_at, activity_type);
-- The live stream's tail and replay: `user_id = ? AND id > ?`.
CREATE INDEX ix_activity_user_id_id ON activity_log (user_id, id);
ANALYZE activity_log;

-- Reads by id are bounded in time too, so that they look only in the newest
-- partitions: a webhook's cursor keeps its row's time beside its id, and a
-- delivery the time of the row it delivers (NULL, unbounded, for those made
-- before this migration).
ALTER TABLE webhooks ADD COLUMN last_activity_at TIMESTAMP;
ALTER TABLE webhook_deliveries ADD COLUMN activity_created_at TIMESTAMP;

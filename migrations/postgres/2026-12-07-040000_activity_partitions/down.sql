-- Back to one plain table: every partition's rows, the same sequence, the
-- primary key on id alone.
ALTER TABLE webhook_deliveries DROP COLUMN activity_created_at;
ALTER TABLE webhooks DROP COLUMN last_activity_at;
ALTER TABLE activity_log RENAME TO activity_log_partitioned;
ALTER TABLE activity_log_partitioned
    RENAME CONSTRAINT activity_log_pkey TO activity_log_partitioned_pkey;
DROP INDEX ix_activity_user_id, ix_activity_type, ix_activity_created_at,
    ix_activity_user_created, ix_activity_user_created_id,
    ix_activity_user_created_type, ix_activity_user_id_id;
ALTER SEQUENCE activity_log_id_seq OWNED BY NONE;

CREATE TABLE activity_log (
    id BIGINT NOT NULL DEFAULT nextval('activity_log_id_seq') PRIMARY KEY,
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
    session_id BIGINT
);
ALTER SEQUENCE activity_log_id_seq OWNED BY activity_log.id;

INSERT INTO activity_log (id, user_id, activity_type, description, playlist_id,
    playlist_name, actor_type, actor_name, metadata, created_at, request_id,
    ip_address, user_agent, session_id)
SELECT id, user_id, activity_type, description, playlist_id, playlist_name,
    actor_type, actor_name, metadata, created_at, request_id, ip_address,
    user_agent, session_id
FROM activity_log_partitioned;
DROP TABLE activity_log_partitioned;

CREATE INDEX ix_activity_user_id ON activity_log (user_id);
CREATE INDEX ix_activity_type ON activity_log (activity_type);
CREATE INDEX ix_activity_created_at ON activity_log (created_at);
CREATE INDEX ix_activity_user_created ON activity_log (user_id, created_at);
CREATE INDEX ix_activity_user_created_id ON activity_log (user_id, created_at, id);
CREATE INDEX ix_activity_user_created_type ON activity_log (user_id, created_at, activity_type);
CREATE INDEX ix_activity_user_id_id ON activity_log (user_id, id);

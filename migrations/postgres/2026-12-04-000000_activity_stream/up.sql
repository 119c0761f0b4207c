-- The live activity stream (docs/api.md, "The live feed"): a browser's EventSource cannot
-- send a header, so it presents a ticket instead of the bearer token:
-- random, stored as its SHA-256, valid 60 seconds for one stream, bound to
-- the session that asked for it.
CREATE TABLE stream_tickets (
    id BIGSERIAL PRIMARY KEY,
    ticket_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id BIGINT NOT NULL REFERENCES auth_sessions(id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX ix_stream_tickets_expires ON stream_tickets (expires_at);
-- The stream reads each watched user's rows after the last id it sent
-- (`user_id = ? AND id > ?`), every tick.
CREATE INDEX ix_activity_user_id_id ON activity_log (user_id, id);

-- The live activity stream (docs/api.md, "The live feed"): a browser's EventSource cannot
-- send a header, so it presents a ticket instead of the bearer token:
-- random, stored as its SHA-256, valid 60 seconds for one stream, bound to
-- the session that asked for it.
CREATE TABLE stream_tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id INTEGER NOT NULL REFERENCES auth_sessions(id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX ix_stream_tickets_expires ON stream_tickets (expires_at);
-- The stream reads a user's rows after an id (`user_id = ? AND id > ?`):
-- on SQLite ix_activity_user_id (user_id) already ends with the rowid.

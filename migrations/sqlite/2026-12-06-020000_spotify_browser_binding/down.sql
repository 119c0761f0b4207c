-- SQLite cannot drop a column that references another table, so the
-- table of pending authorizations is made again without the two columns
-- (what it held lasts ten minutes; a user starts connecting again).
DROP INDEX ux_provider_connections_account;
DROP TABLE oauth_states;
CREATE TABLE oauth_states (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    state_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    pkce_challenge TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_oauth_states_expires ON oauth_states (expires_at);

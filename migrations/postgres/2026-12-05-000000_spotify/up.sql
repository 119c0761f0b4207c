-- Spotify as a playlist provider (docs/spotify.md).

-- One connected account per user and provider. The tokens are sealed with
-- AES-256-GCM under TOKEN_ENCRYPTION_KEY (nonce and ciphertext, base64),
-- never stored in the clear. `refresh_claimed_until` is a short claim on a
-- token refresh, so two instances do not refresh at once and neither holds
-- a row lock across the call to Spotify. `broken_reason` is set when
-- Spotify refused the refresh token: the user must connect again.
CREATE TABLE provider_connections (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    account_id TEXT NOT NULL,
    display_name TEXT,
    scopes TEXT NOT NULL,
    access_token TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    access_expires_at TIMESTAMP NOT NULL,
    refresh_claimed_until TIMESTAMP,
    broken_reason TEXT,
    connected_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, provider)
);

-- An authorization in progress: the SHA-256 of its `state` and the PKCE
-- challenge (the verifier's hash; the verifier itself is derived from the
-- state, so nothing here can be replayed), valid ten minutes, deleted by
-- the first callback that presents it. Any instance can take the callback.
CREATE TABLE oauth_states (
    id BIGSERIAL PRIMARY KEY,
    state_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    pkce_challenge TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_oauth_states_expires ON oauth_states (expires_at);

-- A playlist's provider and, when linked, the provider's playlist, the
-- account that linked it, the provider's snapshot at the last sync or
-- write, whether a failed write left the two apart (writes answer 409
-- until a sync), and since when a write to the provider is under way.
ALTER TABLE playlists ADD COLUMN provider TEXT NOT NULL DEFAULT 'local';
ALTER TABLE playlists ADD COLUMN provider_playlist_id TEXT;
ALTER TABLE playlists ADD COLUMN provider_account_id TEXT;
ALTER TABLE playlists ADD COLUMN provider_snapshot_id TEXT;
ALTER TABLE playlists ADD COLUMN provider_out_of_sync BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE playlists ADD COLUMN provider_writing_since TIMESTAMP;
-- One link per user and provider playlist (import answers 409 on a second).
CREATE UNIQUE INDEX ux_playlists_owner_provider_playlist
    ON playlists (owner_id, provider, provider_playlist_id);

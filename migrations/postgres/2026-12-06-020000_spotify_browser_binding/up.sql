-- Binding a Spotify authorization to the browser that asked for it, and
-- one Shuffify user per Spotify account.
--
-- `nonce_hash` is the SHA-256 of the random value `authorize` sets in the
-- `shuffify_spotify` cookie; the callback must bring the same cookie, so a
-- consent URL sent to someone else links nothing. `session_id` is the
-- login that asked: logging out drops its pending authorizations (and the
-- cascade drops them with the session). Authorizations started before this
-- migration have neither and can no longer complete; they expire within
-- ten minutes anyway.
ALTER TABLE oauth_states ADD COLUMN nonce_hash TEXT;
ALTER TABLE oauth_states
    ADD COLUMN session_id BIGINT REFERENCES auth_sessions(id) ON DELETE CASCADE;
CREATE INDEX ix_oauth_states_session ON oauth_states (session_id);

-- One Spotify account links to at most one user. Existing duplicates were
-- possibly made by the forced-linking flow this migration closes, and the
-- rows cannot tell the rightful owner from the one who forced the link
-- (either may be older), so every connection of an account linked to more
-- than one user is deleted: each of those users sees "not connected", and
-- the account's owner connects again from their own browser. Their linked
-- playlists stay linked, as after a disconnect.
DELETE FROM provider_connections
WHERE (provider, account_id) IN (
    SELECT provider, account_id FROM provider_connections
    GROUP BY provider, account_id HAVING COUNT(*) > 1
);
CREATE UNIQUE INDEX ux_provider_connections_account
    ON provider_connections (provider, account_id);

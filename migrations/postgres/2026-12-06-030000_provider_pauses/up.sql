-- The app-wide pause after Spotify answered 429: Spotify's rate limit is
-- per app, so once it asks for a wait, every call of the app, on every
-- instance, waits until `wait_until` (or passes the rest of the wait on as
-- a 503). One row per provider, written only when a 429 arrives (the later
-- of the two times wins), read by each instance at most about once a
-- second.
CREATE TABLE provider_pauses (
    provider TEXT PRIMARY KEY,
    wait_until TIMESTAMP NOT NULL
);

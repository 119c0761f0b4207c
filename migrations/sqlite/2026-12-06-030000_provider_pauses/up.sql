-- The app-wide pause after Spotify answered 429 (one row per provider).
-- A SQLite database serves one instance, which keeps the pause in process;
-- the table is here so both backends share one schema.
CREATE TABLE provider_pauses (
    provider TEXT PRIMARY KEY NOT NULL,
    wait_until TIMESTAMP NOT NULL
);

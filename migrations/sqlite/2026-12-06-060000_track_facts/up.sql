-- Each user's own facts about a track. `tracks` keeps one row per URI:
-- the provider's facts for Spotify URIs (an import, sync or raid from
-- Spotify replaces them), else what the first client that named the URI
-- sent; it is what a user sees of a URI they never described. What a user
-- sends when creating a playlist goes here, keyed by user and URI, and
-- wins over `tracks` for that user's playlists only, so no user's input
-- changes what another user's playlists show or how they shuffle.
-- Nothing moves: every user still sees today's rows of `tracks`, as they
-- did before this table existed.
CREATE TABLE track_facts (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    uri VARCHAR(255) NOT NULL REFERENCES tracks(uri),
    name TEXT NOT NULL,
    artists TEXT NOT NULL DEFAULT '[]',
    album_name TEXT,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    tempo DOUBLE,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, uri)
);

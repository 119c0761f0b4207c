-- The whole data model. Timestamps are written by the service
-- (UTC, microseconds) and never defaulted here; JSON columns hold JSON text.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email TEXT,
    password_hash TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    login_count INTEGER NOT NULL DEFAULT 0,
    last_login_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE auth_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    ip_address VARCHAR(45),
    user_agent VARCHAR(512)
);
-- "since last login" reads a user's sessions newest first.
CREATE INDEX ix_auth_sessions_user_created ON auth_sessions (user_id, created_at);

CREATE TABLE user_settings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    default_algorithm TEXT NOT NULL DEFAULT 'basic',
    default_algorithm_params TEXT NOT NULL DEFAULT '{}',
    auto_snapshot_enabled BOOLEAN NOT NULL DEFAULT 1,
    max_snapshots_per_playlist INTEGER NOT NULL DEFAULT 10,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE tracks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uri VARCHAR(255) NOT NULL UNIQUE,
    name TEXT NOT NULL,
    artists TEXT NOT NULL DEFAULT '[]',
    album_name TEXT,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    tempo DOUBLE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE playlists (
    id VARCHAR(22) PRIMARY KEY NOT NULL,
    owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name VARCHAR(200) NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    is_public BOOLEAN NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_playlists_owner ON playlists (owner_id, updated_at);

CREATE TABLE playlist_tracks (
    playlist_id VARCHAR(22) NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    track_uri VARCHAR(255) NOT NULL REFERENCES tracks(uri),
    PRIMARY KEY (playlist_id, position)
);
CREATE INDEX ix_playlist_tracks_track ON playlist_tracks (track_uri);

CREATE TABLE workshop_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    playlist_id VARCHAR(22) NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
    session_name VARCHAR(100) NOT NULL,
    track_uris TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_workshop_sessions_user_playlist ON workshop_sessions (user_id, playlist_id);

CREATE TABLE upstream_sources (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    target_playlist_id VARCHAR(22) NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
    -- No foreign key: a deleted source is skipped by raids, not cascaded.
    source_playlist_id VARCHAR(22) NOT NULL,
    source_type VARCHAR(20) NOT NULL DEFAULT 'own',
    source_url TEXT,
    source_name TEXT,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, target_playlist_id, source_playlist_id)
);
CREATE INDEX ix_upstream_sources_target ON upstream_sources (target_playlist_id);

CREATE TABLE schedules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    job_type VARCHAR(20) NOT NULL,
    -- No foreign key: a schedule outlives its playlist and fails when run.
    target_playlist_id VARCHAR(22) NOT NULL,
    target_playlist_name TEXT NOT NULL,
    source_playlist_ids TEXT NOT NULL DEFAULT '[]',
    algorithm_name VARCHAR(50),
    algorithm_params TEXT NOT NULL DEFAULT '{}',
    schedule_type VARCHAR(20) NOT NULL,
    schedule_value VARCHAR(100) NOT NULL,
    is_enabled BOOLEAN NOT NULL DEFAULT 1,
    next_run_at TIMESTAMP,
    last_run_at TIMESTAMP,
    last_status VARCHAR(20),
    last_error VARCHAR(1000),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_schedules_user ON schedules (user_id);
-- The scheduler's "what is due" query.
CREATE INDEX ix_schedules_due ON schedules (is_enabled, next_run_at);

CREATE TABLE job_executions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_id INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    triggered_by VARCHAR(20) NOT NULL,
    started_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    status VARCHAR(20) NOT NULL,
    tracks_added INTEGER NOT NULL DEFAULT 0,
    tracks_total INTEGER NOT NULL DEFAULT 0,
    error_message VARCHAR(1000)
);
CREATE INDEX ix_job_executions_schedule ON job_executions (schedule_id, started_at);
CREATE INDEX ix_job_executions_status ON job_executions (status);

CREATE TABLE playlist_snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    playlist_id VARCHAR(22) NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
    playlist_name TEXT NOT NULL,
    track_uris TEXT NOT NULL DEFAULT '[]',
    track_count INTEGER NOT NULL DEFAULT 0,
    snapshot_type VARCHAR(30) NOT NULL,
    trigger_description VARCHAR(500),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_snapshots_user_playlist_created ON playlist_snapshots (user_id, playlist_id, created_at);

CREATE TABLE activity_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    activity_type VARCHAR(50) NOT NULL,
    description VARCHAR(500) NOT NULL,
    playlist_id TEXT,
    playlist_name TEXT,
    actor_type VARCHAR(20) NOT NULL,
    actor_name TEXT,
    metadata TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_activity_user_id ON activity_log (user_id);
CREATE INDEX ix_activity_type ON activity_log (activity_type);
CREATE INDEX ix_activity_created_at ON activity_log (created_at);
-- Every read of a user's trail: newest first by (created_at, id). SQLite
-- appends the rowid to every index, so this also serves the keyset order.
CREATE INDEX ix_activity_user_created ON activity_log (user_id, created_at);

-- A playlist's rotation: after a raid leaves it over `rotation_max_tracks`
-- entries, the entries added longest ago move to the end of the archive
-- playlist (or are dropped when it has none). Both NULL: no rotation. An
-- archive is another playlist of the same owner; deleting it keeps the
-- rotation's size and drops the archive (ON DELETE SET NULL), found through
-- the partial index rather than a scan of every playlist.
ALTER TABLE playlists ADD COLUMN rotation_max_tracks INTEGER;
ALTER TABLE playlists ADD COLUMN rotation_archive_playlist_id VARCHAR(22)
    REFERENCES playlists (id) ON DELETE SET NULL;
CREATE INDEX ix_playlists_rotation_archive ON playlists (rotation_archive_playlist_id)
    WHERE rotation_archive_playlist_id IS NOT NULL;

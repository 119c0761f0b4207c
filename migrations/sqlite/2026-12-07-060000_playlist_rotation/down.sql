DROP INDEX ix_playlists_rotation_archive;
ALTER TABLE playlists DROP COLUMN rotation_archive_playlist_id;
ALTER TABLE playlists DROP COLUMN rotation_max_tracks;

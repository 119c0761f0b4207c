DROP INDEX ux_playlists_owner_provider_playlist;
ALTER TABLE playlists DROP COLUMN provider_writing_since;
ALTER TABLE playlists DROP COLUMN provider_out_of_sync;
ALTER TABLE playlists DROP COLUMN provider_snapshot_id;
ALTER TABLE playlists DROP COLUMN provider_account_id;
ALTER TABLE playlists DROP COLUMN provider_playlist_id;
ALTER TABLE playlists DROP COLUMN provider;
DROP TABLE oauth_states;
DROP TABLE provider_connections;

ALTER TABLE playlists DROP COLUMN pinned_positions;

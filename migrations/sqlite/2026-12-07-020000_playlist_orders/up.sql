-- A playlist's order in one row: rewriting it (a shuffle, an undo, a raid, a
-- workshop commit, a sync) is one UPDATE instead of deleting and inserting a
-- row per track, each maintaining two indexes and checking two foreign keys.
--
-- `entries` is a compact JSON array of `[track_uri, added_at]` pairs in
-- order (position = index from 0; a URI may repeat); `added_at` is when the
-- entry was added, in whole unix seconds (UTC). `track_count` is the array's
-- length, kept beside it so a listing counts tracks without reading the
-- array; it comes before `entries` so SQLite reads it without touching the
-- array's overflow pages. Every playlist has its row, `[]` when empty.
--
-- The URIs lose their foreign key to `tracks`: the catalog never deletes a
-- row, and every writer checks the URIs against it first.
--
-- Existing entries were added at some unknown time between the playlist's
-- creation and its last change: they take the playlist's `created_at`,
-- the earliest time they can have (ties are broken by position).
CREATE TABLE playlist_orders (
    playlist_id VARCHAR(22) PRIMARY KEY NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
    track_count INTEGER NOT NULL DEFAULT 0,
    entries TEXT NOT NULL DEFAULT '[]'
);

INSERT INTO playlist_orders (playlist_id, track_count, entries)
SELECT p.id,
       (SELECT count(*) FROM playlist_tracks pt WHERE pt.playlist_id = p.id),
       COALESCE(
           (SELECT json_group_array(json_array(pt.track_uri, unixepoch(p.created_at))
                                    ORDER BY pt.position)
              FROM playlist_tracks pt WHERE pt.playlist_id = p.id),
           '[]')
  FROM playlists p;

DROP TABLE playlist_tracks;

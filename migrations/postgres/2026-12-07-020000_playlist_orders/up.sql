-- A playlist's order in one row: rewriting it (a shuffle, an undo, a raid, a
-- workshop commit, a sync) is one UPDATE instead of deleting and inserting a
-- row per track, each maintaining two indexes and checking two foreign keys.
--
-- `entries` is a compact JSON array of `[track_uri, added_at]` pairs in
-- order (position = index from 0; a URI may repeat); `added_at` is when the
-- entry was added, in whole unix seconds (UTC). It is TEXT, as every JSON
-- column here, and read with `json_array_elements(entries::json) WITH
-- ORDINALITY`; a long value is TOASTed, so `track_count` (the array's
-- length, kept beside it) lets a listing count tracks without reading the
-- array. Every playlist has its row, `[]` when empty.
--
-- The URIs lose their foreign key to `tracks`: the catalog never deletes a
-- row, and every writer checks the URIs against it first.
--
-- Existing entries were added at some unknown time between the playlist's
-- creation and its last change: they take the playlist's `created_at`,
-- the earliest time they can have (ties are broken by position).
CREATE TABLE playlist_orders (
    playlist_id VARCHAR(22) PRIMARY KEY REFERENCES playlists(id) ON DELETE CASCADE,
    track_count INTEGER NOT NULL DEFAULT 0,
    entries TEXT NOT NULL DEFAULT '[]'
);

INSERT INTO playlist_orders (playlist_id, track_count, entries)
SELECT p.id,
       count(pt.track_uri),
       '[' || COALESCE(string_agg(
                  '[' || to_json(pt.track_uri)::text || ','
                      || floor(extract(epoch FROM p.created_at))::bigint || ']',
                  ',' ORDER BY pt.position), '') || ']'
  FROM playlists p
  LEFT JOIN playlist_tracks pt ON pt.playlist_id = p.id
 GROUP BY p.id;

DROP TABLE playlist_tracks;

-- Back to one row per entry; the added times are lost.
CREATE TABLE playlist_tracks (
    playlist_id VARCHAR(22) NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    track_uri VARCHAR(255) NOT NULL REFERENCES tracks(uri),
    PRIMARY KEY (playlist_id, position)
);
CREATE INDEX ix_playlist_tracks_track ON playlist_tracks (track_uri);

INSERT INTO playlist_tracks (playlist_id, position, track_uri)
SELECT o.playlist_id, (e.n - 1)::integer, e.value ->> 0
  FROM playlist_orders o
 CROSS JOIN LATERAL json_array_elements(o.entries::json) WITH ORDINALITY AS e(value, n);

DROP TABLE playlist_orders;

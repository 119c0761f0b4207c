-- Back to one row per entry; the added times are lost.
CREATE TABLE playlist_tracks (
    playlist_id VARCHAR(22) NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    track_uri VARCHAR(255) NOT NULL REFERENCES tracks(uri),
    PRIMARY KEY (playlist_id, position)
);
CREATE INDEX ix_playlist_tracks_track ON playlist_tracks (track_uri);

INSERT INTO playlist_tracks (playlist_id, position, track_uri)
SELECT o.playlist_id, CAST(e.key AS INTEGER), e.value ->> 0
  FROM playlist_orders o, json_each(o.entries) e;

DROP TABLE playlist_orders;

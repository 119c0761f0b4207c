-- A playlist's pinned positions: the 0-based slots whose entries every
-- shuffle leaves where they are, and which a dedupe never removes. A JSON
-- array of distinct integers (0-9,999, at most 100, kept sorted), TEXT as
-- every JSON column here; `[]` when nothing is pinned. A slot past the end
-- of the order is kept and has no effect.
ALTER TABLE playlists ADD COLUMN pinned_positions TEXT NOT NULL DEFAULT '[]';

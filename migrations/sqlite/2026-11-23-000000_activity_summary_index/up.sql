-- The summary counts a user's rows per UTC day and per type over a window.
-- Indexed by the day itself (the first ten characters of the stored text),
-- the rows of a (day, type) group are adjacent in the index, so SQLite
-- groups them as it scans, with no sort; and with created_at in the index
-- it never visits the table (issue 10; measured in README "Performance").
CREATE INDEX ix_activity_user_day_type
    ON activity_log (user_id, substr(created_at, 1, 10), activity_type, created_at);

-- The summary counts a user's rows per UTC day and per type over a window:
-- with activity_type in the index, both come from the index alone, with no
-- visit to the table's rows (issue 10; measured in README "Performance").
CREATE INDEX ix_activity_user_created_type ON activity_log (user_id, created_at, activity_type);

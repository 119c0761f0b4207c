-- `since=last_login` resolves against the calling token's session: the
-- start of the user's session before it. Recorded on the session when it
-- opens, it comes with the token's own lookup, so the feed makes two round
-- trips, not three (docs/performance.md). Sessions opened before this migration get
-- it from the history, as it was read until now.
ALTER TABLE auth_sessions ADD COLUMN previous_login_at TIMESTAMP;
UPDATE auth_sessions SET previous_login_at = (
    SELECT earlier.created_at FROM auth_sessions AS earlier
    WHERE earlier.user_id = auth_sessions.user_id AND earlier.id < auth_sessions.id
    ORDER BY earlier.id DESC LIMIT 1
);

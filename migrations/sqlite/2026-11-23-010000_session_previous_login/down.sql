ALTER TABLE auth_sessions DROP COLUMN previous_login_at;

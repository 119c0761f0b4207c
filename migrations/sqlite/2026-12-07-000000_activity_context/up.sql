-- Where each row came from: the request that wrote it (its X-Request-Id),
-- the client's address as the trusted-proxy rules see it, its User-Agent
-- (at most 256 characters kept) and the auth session it used. All null for
-- rows no request wrote (the scheduler, the CLI). session_id names an
-- auth_sessions row without a foreign key: sessions are deleted (logout,
-- expiry), and the trail must keep saying which one it was.
--
-- No index: these filter one user's rows, which ix_activity_user_created_id
-- already finds; an index per column would cost every write three more
-- index entries for a read that is rare (an investigation, an export).
ALTER TABLE activity_log ADD COLUMN request_id TEXT;
ALTER TABLE activity_log ADD COLUMN ip_address TEXT;
ALTER TABLE activity_log ADD COLUMN user_agent TEXT;
ALTER TABLE activity_log ADD COLUMN session_id INTEGER;

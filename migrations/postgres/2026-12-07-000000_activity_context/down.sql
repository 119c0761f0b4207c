ALTER TABLE activity_log DROP COLUMN session_id;
ALTER TABLE activity_log DROP COLUMN user_agent;
ALTER TABLE activity_log DROP COLUMN ip_address;
ALTER TABLE activity_log DROP COLUMN request_id;

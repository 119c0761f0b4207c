DROP INDEX ux_provider_connections_account;
DROP INDEX ix_oauth_states_session;
ALTER TABLE oauth_states DROP COLUMN session_id;
ALTER TABLE oauth_states DROP COLUMN nonce_hash;

DROP INDEX ix_activity_user_id_id;
DROP TABLE stream_tickets;

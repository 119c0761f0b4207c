DROP INDEX ix_activity_user_day_type;

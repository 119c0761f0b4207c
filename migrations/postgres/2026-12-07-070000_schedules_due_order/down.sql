DROP INDEX ix_schedules_due;
CREATE INDEX ix_schedules_due ON schedules (is_enabled, next_run_at);

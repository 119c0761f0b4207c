-- The claim takes due schedules in `next_run_at, id` order, a few at a
-- time. An index in exactly that order, of enabled schedules only, lets it
-- read the first few and stop; `(is_enabled, next_run_at)` left every due
-- row to be sorted when many share one time (a user's schedules often do).
DROP INDEX ix_schedules_due;
CREATE INDEX ix_schedules_due ON schedules (next_run_at, id) WHERE is_enabled;

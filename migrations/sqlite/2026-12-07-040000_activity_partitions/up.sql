-- Partitioning activity_log is PostgreSQL's alone (migrations/postgres has
-- this migration's work); SQLite keeps one table, and this folder keeps the
-- two lists of migrations alike.
SELECT 1;

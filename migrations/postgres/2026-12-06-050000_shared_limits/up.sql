-- Limits that every instance on this database shares, so N instances allow
-- what one does: the per-address token buckets (login and registration) and
-- the per-username login lockout. Both are written by one atomic
-- `INSERT ... ON CONFLICT ... DO UPDATE` each, and swept as they empty out.
-- Reached through `src/models/address_bucket.rs` and
-- `src/models/login_failure.rs` only, with SQL of PostgreSQL's own.

-- One row per bucket ("login:192.0.2.1", "register:2001:db8::/64"):
-- tokens left at `updated_at`; `refill_secs` is how long an empty bucket
-- takes to fill, so a row older than that is a full bucket and may go.
CREATE TABLE address_buckets (
    bucket TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    refill_secs DOUBLE PRECISION NOT NULL
);

-- One row per username (a SHA-256 prefix, never the name): the times of
-- its failed (or still unjudged) logins within the window, oldest first.
CREATE TABLE login_failures (
    name_key TEXT PRIMARY KEY,
    failed_at TIMESTAMPTZ[] NOT NULL
);

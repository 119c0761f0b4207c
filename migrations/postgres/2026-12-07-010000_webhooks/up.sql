-- Signed webhooks: each new activity row of the owner whose type matches is
-- POSTed to the URL, in id order, at least once.
--
-- `secret` is kept as the 201 showed it: the service needs it to sign every
-- delivery, so it cannot be stored as a hash; it is never read back by the
-- API. `types` is a JSON array of activity types, NULL for all.
-- `last_activity_id` is the webhook's cursor over its owner's rows: every
-- row with a lower or equal id has been given a delivery or skipped (its
-- type did not match). One user's rows commit in id order (the per-user
-- lock of the activity insert), so a cursor never passes a row that has yet
-- to commit. `claimed_by`/`claimed_until` are a lease on the webhook: the
-- one instance holding it makes the webhook's next attempt, so no attempt
-- is made twice and events go out one after another.
CREATE TABLE webhooks (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    types TEXT,
    secret TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_activity_id BIGINT NOT NULL DEFAULT 0,
    claimed_by TEXT,
    claimed_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_webhooks_user ON webhooks (user_id, id);
CREATE INDEX ix_webhooks_enabled ON webhooks (enabled, id);

-- One row per event sent (or being sent) to a webhook. `activity_id` has no
-- foreign key: a delivery's record outlives a pruned activity row.
CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    activity_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt_at TIMESTAMP,
    last_status INTEGER,
    last_error TEXT,
    next_attempt_at TIMESTAMP,
    succeeded_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX ix_webhook_deliveries_pending ON webhook_deliveries (webhook_id, next_attempt_at)
    WHERE status = 'pending';

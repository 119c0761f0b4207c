ALTER TABLE webhook_deliveries DROP COLUMN activity_created_at;
ALTER TABLE webhooks DROP COLUMN last_activity_at;

ALTER TABLE schedules DROP COLUMN claimed_until;
ALTER TABLE schedules DROP COLUMN claimed_by;

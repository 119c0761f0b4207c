-- A claim is a lease on a schedule: the instance that marked it runs its due
-- occurrence. `claimed_by` names the instance; `claimed_until` is when an
-- unstarted claim runs out (the schedule is then due again for any
-- instance). When the run starts, `claimed_until` becomes NULL and
-- `claimed_by` stays: a started claim never runs out by itself, it ends
-- with the run's last transaction (or when an expired run is marked
-- interrupted), which also moves `next_run_at` on.
ALTER TABLE schedules ADD COLUMN claimed_by TEXT;
ALTER TABLE schedules ADD COLUMN claimed_until TIMESTAMP;

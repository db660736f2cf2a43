-- 0003: a lease row outlives its step, so the next run to take the instance knows what the
-- last one did. released_at is when its step let it go (NULL while held or while its runner
-- is dead holding it); changed_at, changed_digest and changed_shard say when and by which
-- run a step that had sent a call to the instance last let it go. A step of another run
-- that takes the instance after such a change waits out the kind's visibility grace before
-- it judges the instance, and a dead runner's lease whose step had sent its call and not
-- seen it settle is not taken by another run at all (the call may still be on its way to
-- being seen): only that run's continuation takes it.
ALTER TABLE upgradeplan.leases
    ADD COLUMN released_at    timestamptz,
    ADD COLUMN changed_at     timestamptz,
    ADD COLUMN changed_digest text,
    ADD COLUMN changed_shard  text;

-- Whether a step sent a call: its intents, looked up at release and by a lease's taker.
CREATE INDEX journal_intents ON upgradeplan.journal (digest, shard, step_id) WHERE type = 'intent';

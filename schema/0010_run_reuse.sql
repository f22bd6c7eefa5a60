-- An identical re-run returns the stored run instead of storing a copy (issue 13, item 9).
-- inputs_digest: a hash of everything a run's result depends on besides the directory (the algorithm version, the
-- as-of date, the need as stored, the weights in force and the run's limits; for a partnership run its match runs).
-- directory_snapshot: the PostgreSQL snapshot the directory was ranked under (pg_current_snapshot() as text); the
-- directory is unchanged since when no provider was written that the snapshot could not see (schema/0005).
-- Runs stored before this migration have neither and are never reused.
alter table match_run add column inputs_digest text, add column directory_snapshot text;
alter table partnership_run add column inputs_digest text;
create index match_run_reuse on match_run (need_id, inputs_digest, id desc) where inputs_digest is not null;
create index partnership_run_reuse on partnership_run (exercise_id, inputs_digest, id desc)
    where inputs_digest is not null;

-- The peer of store_claims_bench: one claim and one completion of a task, as plain SQL, run by
-- pgbench (one script run = one claim + one completion). Same table, predicate, lock mode and
-- fencing as Store::ClaimNextTask + Store::Commit, without weir's store layer (no commit token,
-- no read-back of the whole row, READ COMMITTED for both transactions, no heartbeat).
BEGIN;
SELECT id AS task_id FROM tasks
  WHERE dataset = 'peer' AND status IN ('CREATED', 'INTERRUPTED', 'RUNNING') AND
        (status <> 'RUNNING' OR lease_until < CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT))
  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
\gset
UPDATE tasks SET status = 'RUNNING', attempts = attempts + 1,
    updated_at = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    lease_owner = 'pgbench:' || :client_id,
    leased_at = CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT),
    lease_until = CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) + 30000
  WHERE id = :task_id RETURNING attempts AS claimed
\gset
COMMIT;
UPDATE tasks SET seq = seq + 1, ck_offset = 100, ck_record = 1, n_read = 1, n_written = 1,
    n_bytes = 100, duration_ms = 1, status = 'COMPLETED',
    updated_at = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
  WHERE id = :task_id AND attempts = :claimed;

-- 0002: the auditors' views over the journal. Views only: they add nothing a runner writes,
-- so a database migrated to 0002 still serves runners of 0001 in the meantime.

-- One row per step of every run (and shard): its latest record.
CREATE VIEW upgradeplan.steps AS
SELECT DISTINCT ON (j.digest, j.step_id)
       j.digest                                 AS run,
       j.shard,
       j.step_id,
       s->>'target'                             AS target,
       s->>'kind'                               AS kind,
       coalesce(s->>'account', '')              AS account,
       s->>'region'                             AS region,
       s->>'instance'                           AS instance,
       s->>'action'                             AS action,
       s->'from'                                AS from_values,
       s->'to'                                  AS to_values,
       s->'before'                              AS observed_before,
       s->'after'                               AS observed_after,
       s->>'status'                             AS status,
       s->>'reason'                             AS reason,
       coalesce((s->>'attempts')::integer, 0)   AS attempts,
       s->'request_ids'                         AS request_ids,
       s->>'order_id'                           AS order_id,
       s->'error'->>'code'                      AS error_code,
       s->'error'->>'message'                   AS error_message,
       (s->>'started_at')::timestamptz          AS started_at,
       (s->>'finished_at')::timestamptz         AS finished_at,
       j.host                                   AS runner_host,
       j.pid                                    AS runner_pid,
       j.at                                     AS recorded_at
FROM upgradeplan.journal j
CROSS JOIN LATERAL (SELECT j.entry->'step' AS s) x
WHERE j.type = 'step'
ORDER BY j.digest, j.step_id, j.id DESC;

-- One row per mutating call (intent): when it was sent and answered, how, with which
-- request id and error code, from which runner. A call without an answer is one whose
-- runner died or lost the answer ('no answer recorded': the step's record says what the
-- instance showed).
CREATE VIEW upgradeplan.calls AS
SELECT i.digest                                              AS run,
       i.shard,
       i.step_id,
       st.s->>'kind'                                         AS kind,
       coalesce(st.s->>'account', '')                        AS account,
       st.s->>'region'                                       AS region,
       st.s->>'instance'                                     AS instance,
       st.s->>'action'                                       AS action,
       st.s->'from'                                          AS from_values,
       st.s->'to'                                            AS to_values,
       i.attempt,
       i.at                                                  AS sent_at,
       r.at                                                  AS answered_at,
       CASE WHEN r.id IS NULL THEN 'no answer recorded'
            WHEN jsonb_typeof(r.entry->'error') IS DISTINCT FROM 'object' THEN 'accepted'
            ELSE coalesce(r.class, 'error') END              AS status,
       coalesce(r.request_id, r.entry->'error'->>'request_id') AS request_id,
       r.entry->>'order_id'                                  AS order_id,
       r.error_code,
       r.entry->'error'->>'message'                          AS error_message,
       i.entry->>'client_token'                              AS client_token,
       i.host                                                AS runner_host,
       i.pid                                                 AS runner_pid
FROM upgradeplan.journal i
LEFT JOIN LATERAL (
    SELECT * FROM upgradeplan.journal r
    WHERE r.digest = i.digest AND r.shard = i.shard AND r.type = 'result'
      AND r.step_id = i.step_id AND r.attempt = i.attempt AND r.id > i.id
    ORDER BY r.id DESC LIMIT 1) r ON true
LEFT JOIN LATERAL (
    SELECT s.entry->'step' AS s FROM upgradeplan.journal s
    WHERE s.digest = i.digest AND s.type = 'step' AND s.step_id = i.step_id
    ORDER BY s.id LIMIT 1) st ON true
WHERE i.type = 'intent';

-- One row per segment (runner invocation) of every run: who ran it, from where, when, and
-- why it stopped.
CREATE VIEW upgradeplan.segments AS
SELECT b.digest AS run, b.shard, b.host AS runner_host, b.pid AS runner_pid,
       b.at AS started_at, e.at AS finished_at,
       CASE WHEN e.id IS NULL THEN 'no end recorded (killed, or still running)' ELSE coalesce(e.entry->>'stop', '') END AS stop
FROM upgradeplan.journal b
LEFT JOIN LATERAL (
    SELECT * FROM upgradeplan.journal e
    WHERE e.digest = b.digest AND e.shard = b.shard AND e.type = 'end' AND e.id > b.id
      AND NOT EXISTS (SELECT 1 FROM upgradeplan.journal n WHERE n.digest = b.digest AND n.shard = b.shard
                      AND n.type = 'begin' AND n.id > b.id AND n.id < e.id)
    ORDER BY e.id LIMIT 1) e ON true
WHERE b.type = 'begin';

-- 0001: runs, their journals and records, the plan locks' holders and the instance leases.
-- Every table lives in the schema upgradeplan (created by the migrator).

-- One row per plan applied through this database: a plan is applied once, so its digest
-- names its run.
CREATE TABLE upgradeplan.runs (
    digest     text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL -- "pid 1234 on host since ..."
);

-- The journal: one row per entry, in the order the runner appended them (id). shard is ''
-- for an unsharded run, else "I/N". entry is the whole executor.Entry as JSON; the columns
-- beside it repeat what auditors filter on.
CREATE TABLE upgradeplan.journal (
    id         bigserial PRIMARY KEY,
    digest     text NOT NULL,
    shard      text NOT NULL DEFAULT '',
    at         timestamptz NOT NULL,
    type       text NOT NULL, -- begin, intent, result, step, end
    step_id    text,
    attempt    integer,
    request_id text,
    error_code text,
    class      text,
    host       text NOT NULL, -- the runner that wrote the row
    pid        integer NOT NULL,
    entry      jsonb NOT NULL
);
CREATE INDEX journal_run ON upgradeplan.journal (digest, shard, id);
CREATE INDEX journal_at ON upgradeplan.journal (at);

-- The run record (run.json) of each run and shard, rewritten as the run goes.
CREATE TABLE upgradeplan.records (
    digest     text NOT NULL,
    shard      text NOT NULL DEFAULT '',
    record     jsonb NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (digest, shard)
);

-- Who holds a plan's (or a shard's) session advisory lock: lock_key is the lock's key,
-- backend_pid the holding connection's pg_backend_pid(). The lock itself is the truth:
-- a row whose lock is not held (pg_locks) is stale.
CREATE TABLE upgradeplan.holders (
    digest      text NOT NULL,
    shard       text NOT NULL DEFAULT '',
    host        text NOT NULL,
    pid         integer NOT NULL,
    started_at  timestamptz NOT NULL,
    lock_key    bigint NOT NULL,
    backend_pid integer NOT NULL,
    PRIMARY KEY (digest, shard)
);

-- Instance leases: one row per instance a step of some run holds. A row is live while its
-- run's plan lock (lock_key, backend_pid) is held; a dead runner's rows are taken over.
CREATE TABLE upgradeplan.leases (
    cloud       text NOT NULL,
    region      text NOT NULL,
    instance    text NOT NULL,
    account     text NOT NULL,
    digest      text NOT NULL,
    shard       text NOT NULL DEFAULT '',
    step_id     text NOT NULL,
    host        text NOT NULL,
    pid         integer NOT NULL,
    since       timestamptz NOT NULL,
    lock_key    bigint NOT NULL,
    backend_pid integer NOT NULL,
    PRIMARY KEY (cloud, region, instance)
);

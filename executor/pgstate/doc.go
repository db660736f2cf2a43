// Package pgstate owns the PostgreSQL run-state backend of apply (`--state postgres://…`,
// UPGRADEPLAN_STATE): a run's journal, its run record, the plan lock, the applied-once
// ledger and the instance leases live in one database, so a run outlives its runner (any
// machine continues it, with no local files), two runners anywhere never apply one plan at
// once, and runs of different plans never touch one instance at once.
//
//   - Connection: a postgres:// URL without a password; the password comes from PGPASSWORD
//     or a PGPASSFILE (~/.pgpass), never from the URL (refused), so it reaches no log, record
//     or process list. Every other libpq setting (sslmode, PGSSLROOTCERT, …) works as in psql.
//   - Schema: the tables live in the schema upgradeplan; versioned migrations are embedded
//     (migrations/NNNN_name.sql) and applied on first use by whichever runner comes first
//     (others wait on an advisory lock). A binary meeting a newer schema refuses to run.
//     Upgrade path: run the newer upgradeplan once (any command that opens the state);
//     migrations only add, so older runs stay readable.
//   - Journal: Append is one INSERT in its own transaction with synchronous_commit on, so an
//     intent is committed before its call and a result after it, in the same order as the
//     local journal.
//   - Plan lock: a session advisory lock on a key derived from the plan digest (and shard)
//     held by a connection of its own for the whole apply, with a holder row (host, pid,
//     start time). PostgreSQL releases it when the runner's connection dies, so a dead
//     runner's run is taken over by the next `apply PLAN --state …`. If that connection is
//     lost while the runner lives, every later Append fails, so the run stops before another
//     call.
//   - Leases: a row per (cloud, region, instance), live while its run's plan lock is held
//     (checked in pg_locks); the account is recorded, not keyed, since two plans may name one
//     account differently while an instance id is one instance in its cloud and region.
//     A row outlives its step (released_at), remembering the last run whose step sent a
//     call to the instance (changed_at): the next run learns it through ForeignChange and
//     waits out the visibility grace before it judges the instance. A dead runner's lease
//     whose step sent a call it did not see settle is taken by no other run, only by that
//     run's continuation: the accepted change may not show in reads yet.
package pgstate

package pgstate

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/upgradeplan/upgradeplan/executor"
)

// Lease takes the instance's lease row. Under a transaction advisory lock on the instance
// it reads the row: none, one of this run (an earlier segment, a chained step), one another
// run released, or one whose run's plan lock is no longer held (a dead runner) is taken; a
// live one of another run is answered with its holder, and so is a dead runner's whose step
// had sent its call and not seen it settle (only that run's continuation may follow the
// call). When a step of another run that had sent a call let the instance go, ForeignChange
// says how long ago (migration 0003).
func (r *runState) Lease(ctx context.Context, k executor.InstanceKey, step string) (func(), string, error) {
	if err := r.lostErr(); err != nil {
		return nil, "", err
	}
	c, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	tx, err := r.s.pool.Begin(c)
	if err != nil {
		return nil, "", err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(c, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "upgradeplan/lease/"+k.Cloud+"/"+k.Region+"/"+k.Instance); err != nil {
		return nil, "", err
	}
	var l leaseRow
	err = tx.QueryRow(c, `SELECT l.digest, l.shard, l.step_id, l.host, l.pid, l.since, l.released_at IS NOT NULL,
       EXISTS (SELECT 1 FROM pg_locks p WHERE p.locktype = 'advisory' AND p.granted AND p.pid = l.backend_pid
               AND p.classid::bigint = (l.lock_key >> 32) & 4294967295 AND p.objid::bigint = l.lock_key & 4294967295 AND p.objsubid = 1),
       coalesce(l.changed_digest, ''), coalesce(l.changed_shard, ''), coalesce(extract(epoch FROM now() - l.changed_at), -1)
FROM upgradeplan.leases l WHERE l.cloud = $1 AND l.region = $2 AND l.instance = $3`, k.Cloud, k.Region, k.Instance).
		Scan(&l.digest, &l.shard, &l.step, &l.host, &l.pid, &l.since, &l.released, &l.live, &l.changedDigest, &l.changedShard, &l.changedAge)
	if err != nil && err != pgx.ErrNoRows {
		return nil, "", err
	}
	changed := time.Duration(-1) // how long ago another run's change let go; -1: none known
	if err == nil {
		ours := l.digest == r.digest && l.shard == r.shard
		holder := fmt.Sprintf("step %s of plan %s, %s", l.step, short(l.digest), executor.Holder(int(l.pid), l.host, l.since))
		switch {
		case ours:
		case !l.released && l.live:
			return nil, holder, nil
		case !l.released:
			// Its runner died holding it: did its step send a call it did not see settle?
			sent, settled, err := stepSent(c, tx, l.digest, l.shard, l.step)
			if err != nil {
				return nil, "", err
			}
			if sent && !settled {
				return nil, holder + " (its runner died after sending the call: only continuing that run takes the instance)", nil
			}
			if sent {
				changed = 0
			}
		}
		if changed < 0 && l.changedAge >= 0 && (l.changedDigest != r.digest || l.changedShard != r.shard) {
			changed = time.Duration(l.changedAge * float64(time.Second))
		}
	}
	if _, err := tx.Exec(c, `INSERT INTO upgradeplan.leases (cloud, region, instance, account, digest, shard, step_id, host, pid, since, lock_key, backend_pid)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), $10, $11)
ON CONFLICT (cloud, region, instance) DO UPDATE SET account = $4, digest = $5, shard = $6, step_id = $7, host = $8, pid = $9,
    since = now(), lock_key = $10, backend_pid = $11, released_at = NULL`,
		k.Cloud, k.Region, k.Instance, k.Account, r.digest, r.shard, step, r.host, r.pid, r.key, r.backend); err != nil {
		return nil, "", err
	}
	if err := tx.Commit(c); err != nil {
		return nil, "", err
	}
	r.foreignMu.Lock()
	if r.foreign == nil {
		r.foreign = map[executor.InstanceKey]time.Time{}
	}
	if changed >= 0 {
		r.foreign[k] = time.Now().Add(-changed)
	} else {
		delete(r.foreign, k)
	}
	r.foreignMu.Unlock()
	return func() { r.unlease(k, step) }, "", nil
}

// leaseRow is what Lease reads of an instance's lease.
type leaseRow struct {
	digest, shard, step, host   string
	pid                         int32
	since                       time.Time
	released, live              bool
	changedDigest, changedShard string
	changedAge                  float64 // seconds since changed_at; -1 for none
}

// stepSent reads the journal of a run's step: whether it sent a call (an intent), and
// whether its latest record is final.
func stepSent(ctx context.Context, tx pgx.Tx, digest, shard, step string) (sent, settled bool, err error) {
	var status string
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM upgradeplan.journal WHERE digest = $1 AND shard = $2 AND step_id = $3 AND type = 'intent'),
       coalesce((SELECT entry->'step'->>'status' FROM upgradeplan.journal WHERE digest = $1 AND shard = $2 AND step_id = $3 AND type = 'step'
                 ORDER BY id DESC LIMIT 1), '')`, digest, shard, step).Scan(&sent, &status)
	switch executor.Status(status) {
	case executor.StatusPending, executor.StatusRunning, "":
	default:
		settled = true
	}
	return sent, settled, err
}

// ForeignChange says when a step of another run that had sent a call to the instance let
// its lease go, as of this run's last Lease of it (zero: no such change is known).
func (r *runState) ForeignChange(k executor.InstanceKey) time.Time {
	r.foreignMu.Lock()
	defer r.foreignMu.Unlock()
	return r.foreign[k]
}

// unlease lets the step's lease go: the row stays, saying when, and, if the step had sent
// a call, that this run changed the instance then.
func (r *runState) unlease(k executor.InstanceKey, step string) {
	c, cancel := opCtx()
	defer cancel()
	r.s.pool.Exec(c, releaseSQL(" AND m.cloud = $4 AND m.region = $5 AND m.instance = $6 AND m.step_id = $7"),
		r.digest, r.shard, r.backend, k.Cloud, k.Region, k.Instance, step)
}

// releaseSQL lets go of this runner's held leases ($1 digest, $2 shard, $3 backend pid; and
// the rows (m) more names), recording a change where the holding step had sent a call.
func releaseSQL(more string) string {
	return `UPDATE upgradeplan.leases l SET released_at = now(),
    changed_at = CASE WHEN x.sent THEN now() ELSE l.changed_at END,
    changed_digest = CASE WHEN x.sent THEN l.digest ELSE l.changed_digest END,
    changed_shard = CASE WHEN x.sent THEN l.shard ELSE l.changed_shard END
FROM (SELECT m.cloud, m.region, m.instance, EXISTS (SELECT 1 FROM upgradeplan.journal j WHERE j.digest = $1 AND j.shard = $2
        AND j.step_id = m.step_id AND j.type = 'intent') AS sent
      FROM upgradeplan.leases m WHERE m.digest = $1 AND m.shard = $2 AND m.backend_pid = $3 AND m.released_at IS NULL` + more + `) x
WHERE l.cloud = x.cloud AND l.region = x.region AND l.instance = x.instance`
}

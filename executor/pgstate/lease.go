package pgstate

import (
	"context"
	"fmt"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
)

// Lease takes the instance's lease row. Under a transaction advisory lock on the instance
// it reads the row: none, one of this run (an earlier segment, a chained step) or one whose
// run's plan lock is no longer held (a dead runner) is taken; a live one of another run is
// answered with its holder.
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
	var digest, shard, stepID, host string
	var pid, backend int32
	var since time.Time
	var key int64
	var live bool
	err = tx.QueryRow(c, `SELECT l.digest, l.shard, l.step_id, l.host, l.pid, l.since, l.lock_key, l.backend_pid,
       EXISTS (SELECT 1 FROM pg_locks p WHERE p.locktype = 'advisory' AND p.granted AND p.pid = l.backend_pid
               AND p.classid::bigint = (l.lock_key >> 32) & 4294967295 AND p.objid::bigint = l.lock_key & 4294967295 AND p.objsubid = 1)
FROM upgradeplan.leases l WHERE l.cloud = $1 AND l.region = $2 AND l.instance = $3`, k.Cloud, k.Region, k.Instance).
		Scan(&digest, &shard, &stepID, &host, &pid, &since, &key, &backend, &live)
	if err == nil && live && (digest != r.digest || shard != r.shard) {
		return nil, fmt.Sprintf("step %s of plan %s, %s", stepID, short(digest), executor.Holder(int(pid), host, since)), nil
	}
	if _, err := tx.Exec(c, `INSERT INTO upgradeplan.leases (cloud, region, instance, account, digest, shard, step_id, host, pid, since, lock_key, backend_pid)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), $10, $11)
ON CONFLICT (cloud, region, instance) DO UPDATE SET account = $4, digest = $5, shard = $6, step_id = $7, host = $8, pid = $9,
    since = now(), lock_key = $10, backend_pid = $11`,
		k.Cloud, k.Region, k.Instance, k.Account, r.digest, r.shard, step, r.host, r.pid, r.key, r.backend); err != nil {
		return nil, "", err
	}
	if err := tx.Commit(c); err != nil {
		return nil, "", err
	}
	return func() { r.unlease(k, step) }, "", nil
}

func (r *runState) unlease(k executor.InstanceKey, step string) {
	c, cancel := opCtx()
	defer cancel()
	r.s.pool.Exec(c, `DELETE FROM upgradeplan.leases WHERE cloud = $1 AND region = $2 AND instance = $3
AND digest = $4 AND shard = $5 AND step_id = $6 AND backend_pid = $7`, k.Cloud, k.Region, k.Instance, r.digest, r.shard, step, r.backend)
}

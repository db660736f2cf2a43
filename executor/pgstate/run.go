package pgstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/upgradeplan/upgradeplan/executor"
)

// runState is one apply's hold on one run (or shard) in the database.
type runState struct {
	s       *State
	digest  string
	shard   string
	key     int64
	backend int32
	host    string
	pid     int
	since   time.Time
	existed bool

	lockMu sync.Mutex
	lock   *pgx.Conn // holds the plan's advisory lock
	lost   error     // the lock's connection failed: no more appends
	stop   chan struct{}
	done   chan struct{}

	foreignMu sync.Mutex
	foreign   map[executor.InstanceKey]time.Time // ForeignChange's answers, by instance
}

func (r *runState) Where() string {
	w := fmt.Sprintf("%s (run %s", r.s.where, short(r.digest))
	if r.shard != "" {
		w += ", shard " + r.shard
	}
	return w + ")"
}

func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

func (r *runState) Existed() bool { return r.existed }

// keepaliveEvery is how often the lock's connection is checked.
var keepaliveEvery = 2 * time.Second

func (r *runState) startKeepalive() {
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(r.done)
		t := time.NewTicker(keepaliveEvery)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
			}
			if err := r.checkLock(); err != nil {
				return
			}
		}
	}()
}

// checkLock pings the lock's connection; once it failed the lock may be another runner's.
func (r *runState) checkLock() error {
	r.lockMu.Lock()
	defer r.lockMu.Unlock()
	if r.lost != nil {
		return r.lost
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := r.lock.Exec(ctx, "SELECT 1"); err != nil {
		r.lost = fmt.Errorf("the connection holding the plan's lock in %s was lost (%v): another runner may hold it now", r.s.where, err)
	}
	return r.lost
}

func (r *runState) lostErr() error {
	r.lockMu.Lock()
	defer r.lockMu.Unlock()
	return r.lost
}

func (r *runState) Close() error {
	if r.stop != nil {
		close(r.stop)
		<-r.done
		r.stop = nil
	}
	r.lockMu.Lock()
	defer r.lockMu.Unlock()
	if r.lock == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if r.lost == nil {
		r.lock.Exec(ctx, releaseSQL(""), r.digest, r.shard, r.backend)
		r.lock.Exec(ctx, "DELETE FROM upgradeplan.holders WHERE digest = $1 AND shard = $2 AND backend_pid = $3", r.digest, r.shard, r.backend)
		r.lock.Exec(ctx, "SELECT pg_advisory_unlock($1)", r.key)
	}
	err := r.lock.Close(ctx)
	r.lock = nil
	return err
}

func opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// CheckApplied accepts: a run is keyed by its plan's digest, so applying the plan again
// anywhere continues its one run.
func (r *runState) CheckApplied(context.Context) error { return nil }

func (r *runState) Claim(ctx context.Context) error {
	c, cancel := opCtx()
	defer cancel()
	_, err := r.s.pool.Exec(c, "INSERT INTO upgradeplan.runs (digest, created_by) VALUES ($1, $2) ON CONFLICT DO NOTHING",
		r.digest, executor.Holder(r.pid, r.host, r.since))
	return err
}

func (r *runState) ReadJournal(ctx context.Context) ([]executor.Entry, error) {
	return readJournal(ctx, r.s, r.digest, r.shard)
}

func readJournal(ctx context.Context, s *State, digest, shard string) ([]executor.Entry, error) {
	return queryJSON[executor.Entry](ctx, s, "journal",
		"SELECT entry FROM upgradeplan.journal WHERE digest = $1 AND shard = $2 ORDER BY id", digest, shard)
}

// queryJSON runs a query whose one column is a JSON document and decodes every row into a
// T; what names the table in errors.
func queryJSON[T any](ctx context.Context, s *State, what, sql string, args ...any) ([]T, error) {
	c, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	rows, err := s.pool.Query(c, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", what, s.where, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", what, s.where, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Append commits e in a transaction of its own (synchronous_commit on): when it returns, e
// is durable. An intent, which licenses its call, is written only while this runner's
// lock connection still holds the plan's lock (fenced in the INSERT, see holdsLock): the
// keepalive notices a lost lock connection up to keepaliveEvery late, and by then another
// runner may hold the lock and lease the same instances.
func (r *runState) Append(_ context.Context, e executor.Entry) error {
	if err := r.lostErr(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal: encode %s entry: %w", e.Type, err)
	}
	code, class := "", string(e.Class)
	if e.Error != nil {
		code = e.Error.Code
		if class == "" {
			class = string(e.Error.Class)
		}
	}
	c, cancel := opCtx()
	defer cancel()
	insert := `INSERT INTO upgradeplan.journal (digest, shard, at, type, step_id, attempt, request_id, error_code, class, host, pid, entry)
SELECT $1, $2, $3, $4, nullif($5, ''), nullif($6, 0), nullif($7, ''), nullif($8, ''), nullif($9, ''), $10, $11, $12`
	args := []any{r.digest, r.shard, e.Time, e.Type, e.StepID, e.Attempt, e.RequestID, code, class, r.host, r.pid, b}
	if e.Type == executor.EntryIntent {
		insert += "\nWHERE " + holdsLock("$13", "$14")
		args = append(args, r.key, r.backend)
	}
	tag, err := r.s.pool.Exec(c, insert, args...)
	if err != nil {
		return fmt.Errorf("journal: %s: %w", r.s.where, err)
	}
	if e.Type != executor.EntryIntent {
		return nil
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("journal: %s intent not written: %w", e.StepID, r.lockLost())
	}
	if afterIntentInsert != nil {
		afterIntentInsert()
	}
	return r.confirmLock(c, e.StepID)
}

// confirmLock checks, after an intent's commit, that the plan's lock is still this
// runner's. The fence held when the INSERT ran, but other sessions see the row only once
// it is committed: had the lock been lost in between, another runner could have read the
// journal without it. Still held now by the same backend (which never lets it go and
// takes it again) means it was held throughout, so whoever takes it next reads the
// intent. Otherwise the intent stands, but its call is not sent.
func (r *runState) confirmLock(ctx context.Context, stepID string) error {
	held, err := r.heldNow(ctx)
	if err != nil {
		return fmt.Errorf("journal: %s: confirm the plan's lock after the intent: %w", r.s.where, err)
	}
	if !held {
		return fmt.Errorf("journal: %s intent written but not to be acted on: %w", stepID, r.lockLost())
	}
	return nil
}

// Confirm implements executor.Fenced: an error once the plan's lock is lost, or no longer
// held by this runner's lock backend.
func (r *runState) Confirm(ctx context.Context) error {
	if err := r.lostErr(); err != nil {
		return err
	}
	c, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	held, err := r.heldNow(c)
	if err != nil {
		return fmt.Errorf("%s: confirm the plan's lock: %w", r.s.where, err)
	}
	if !held {
		return r.lockLost()
	}
	return nil
}

// heldNow reports whether this runner's lock backend holds the plan's lock at this moment.
func (r *runState) heldNow(ctx context.Context) (bool, error) {
	var held bool
	err := r.s.pool.QueryRow(ctx, "SELECT "+holdsLock("$1", "$2"), r.key, r.backend).Scan(&held)
	return held, err
}

// lockLost marks the plan's lock lost (every later append fails) and returns why.
func (r *runState) lockLost() error {
	r.lockMu.Lock()
	defer r.lockMu.Unlock()
	if r.lost == nil {
		r.lost = fmt.Errorf("the plan's lock in %s is no longer held by this runner's connection (backend %d): another runner may hold it now", r.s.where, r.backend)
	}
	return r.lost
}

// holdsLock is SQL that is true while the backend (placeholder backend) holds the advisory
// lock (placeholder key, a bigint, which pg_locks shows as its high and low 32 bits in
// classid and objid, objsubid 1).
func holdsLock(key, backend string) string {
	return "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = " + backend +
		" AND classid = ((" + key + "::bigint >> 32) & 4294967295)::oid AND objid = (" + key + "::bigint & 4294967295)::oid AND objsubid = 1)"
}

// afterIntentInsert, when set (tests), runs between an intent's INSERT and the check that
// the lock was held throughout.
var afterIntentInsert func()

func (r *runState) WriteRecord(_ context.Context, rec *executor.Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("run record: encode: %w", err)
	}
	c, cancel := opCtx()
	defer cancel()
	_, err = r.s.pool.Exec(c, `INSERT INTO upgradeplan.records (digest, shard, record, updated_at) VALUES ($1, $2, $3, now())
ON CONFLICT (digest, shard) DO UPDATE SET record = $3, updated_at = now()`, r.digest, r.shard, b)
	if err != nil {
		return fmt.Errorf("run record: %s: %w", r.s.where, err)
	}
	return nil
}

func (r *runState) ReadRecord(ctx context.Context) (*executor.Record, error) {
	return readRecord(ctx, r.s, r.digest, r.shard)
}

// ErrNoRecord says the database holds no record of the run (or shard).
var ErrNoRecord = errors.New("no run record")

func readRecord(ctx context.Context, s *State, digest, shard string) (*executor.Record, error) {
	c, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	var b []byte
	err := s.pool.QueryRow(c, "SELECT record FROM upgradeplan.records WHERE digest = $1 AND shard = $2", digest, shard).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("run record: %s: %w", s.where, ErrNoRecord)
	}
	if err != nil {
		return nil, fmt.Errorf("run record: %s: %w", s.where, err)
	}
	var rec executor.Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("run record: %s: %w", s.where, err)
	}
	return &rec, nil
}

// Discard removes what this apply wrote to a run that did not exist before.
func (r *runState) Discard(context.Context) {
	if r.existed {
		return
	}
	c, cancel := opCtx()
	defer cancel()
	r.s.pool.Exec(c, "DELETE FROM upgradeplan.journal WHERE digest = $1 AND shard = $2", r.digest, r.shard)
	r.s.pool.Exec(c, "DELETE FROM upgradeplan.records WHERE digest = $1 AND shard = $2", r.digest, r.shard)
	if r.shard == "" {
		r.s.pool.Exec(c, "DELETE FROM upgradeplan.runs WHERE digest = $1 AND NOT EXISTS (SELECT 1 FROM upgradeplan.journal WHERE digest = $1)", r.digest)
	}
}

// StepRecords returns the latest journaled record of every step of the run, in any shard.
func (r *runState) StepRecords(ctx context.Context) (map[string]executor.StepRecord, error) {
	c, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	rows, err := r.s.pool.Query(c, `SELECT DISTINCT ON (step_id) entry->'step' FROM upgradeplan.journal
WHERE digest = $1 AND type = 'step' ORDER BY step_id, id DESC`, r.digest)
	if err != nil {
		return nil, err
	}
	out := map[string]executor.StepRecord{}
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		var s executor.StepRecord
		if err := json.Unmarshal(b, &s); err == nil {
			out[s.ID] = s
		}
	}
	return out, rows.Err()
}

// Records returns the run record of every shard of the digest's run (one, unsharded, for
// a run without shards).
func (s *State) Records(ctx context.Context, digest string) ([]*executor.Record, error) {
	out, err := queryJSON[*executor.Record](ctx, s, "run records",
		"SELECT record FROM upgradeplan.records WHERE digest = $1 ORDER BY shard", digest)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("run records: %s holds no run %s: %w", s.where, digest, ErrNoRecord)
	}
	return out, nil
}

// ResolveRun turns a run id (the plan's digest or a unique prefix of it) into the digest.
func (s *State) ResolveRun(ctx context.Context, id string) (string, error) {
	c, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	rows, err := s.pool.Query(c, "SELECT DISTINCT digest FROM upgradeplan.records WHERE starts_with(digest, $1) LIMIT 2", id)
	if err != nil {
		return "", fmt.Errorf("runs: %s: %w", s.where, err)
	}
	var found []string
	for rows.Next() {
		var d string
		rows.Scan(&d)
		found = append(found, d)
	}
	switch {
	case rows.Err() != nil:
		return "", rows.Err()
	case len(found) == 0:
		return "", fmt.Errorf("%s holds no run %s: %w", s.where, id, ErrNoRecord)
	case len(found) > 1:
		return "", fmt.Errorf("run id %s names more than one run in %s: give more of the digest", id, s.where)
	}
	return found[0], nil
}

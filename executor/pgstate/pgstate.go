package pgstate

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/upgradeplan/upgradeplan/executor"
)

// Env names the environment variable that selects the state, as --state does.
const Env = "UPGRADEPLAN_STATE"

// ErrPasswordInURL refuses a state URL that carries a password. Its message never repeats
// the URL.
var ErrPasswordInURL = errors.New("the state URL carries a password: give it in PGPASSWORD or a PGPASSFILE instead, so it reaches no log, record or process list")

// IsURL reports whether s names a PostgreSQL state.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// opTimeout bounds one statement.
const opTimeout = 30 * time.Second

// State is the PostgreSQL run-state backend. It implements executor.State.
type State struct {
	pool *pgxpool.Pool
	cfg  *pgx.ConnConfig
	// Shard is "" for an unsharded run, else "I/N": each shard of a run has its own
	// journal, record and plan lock.
	Shard string
	where string
}

// Open connects to the state database at rawURL and migrates its schema.
func Open(ctx context.Context, rawURL string) (*State, error) {
	if !IsURL(rawURL) {
		return nil, errors.New("the state must be a postgres:// URL")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("the state URL does not parse") // url's error repeats the URL
	}
	if _, set := u.User.Password(); set || u.Query().Has("password") {
		return nil, ErrPasswordInURL
	}
	pc, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("the state URL: %w", err)
	}
	// An intent is durable before its call whatever the server's default.
	pc.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pc.ConnConfig.RuntimeParams["application_name"] = "upgradeplan"
	pc.MaxConns = 8
	s := &State{cfg: pc.ConnConfig, where: fmt.Sprintf("PostgreSQL %s:%d/%s", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database)}
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, s.cfg.Copy())
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", s.where, err)
	}
	err = migrate(cctx, conn)
	conn.Close(context.Background())
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", s.where, err)
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", s.where, err)
	}
	return s, nil
}

// WithShard returns the state for one shard ("I/N") of a run.
func (s *State) WithShard(shard string) *State {
	c := *s
	c.Shard = shard
	return &c
}

// Close closes the connections.
func (s *State) Close() { s.pool.Close() }

// String names the database, never with a password.
func (s *State) String() string { return s.where }

// lockKey is the advisory lock key of a run's shard.
func lockKey(digest, shard string) int64 {
	h := sha256.Sum256([]byte("upgradeplan/plan\x00" + digest + "\x00" + shard))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// Open takes the plan's session advisory lock on a connection of its own. The run is the
// digest's (and shard's): run, a local run directory, is not part of it.
func (s *State) Open(ctx context.Context, digest, _ string) (executor.RunState, error) {
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, s.cfg.Copy())
	if err != nil {
		return nil, fmt.Errorf("%w: state %s: %w", executor.ErrNothingAttempted, s.where, err)
	}
	key := lockKey(digest, s.Shard)
	var got bool
	var backend int32
	if err := conn.QueryRow(cctx, "SELECT pg_try_advisory_lock($1), pg_backend_pid()", key).Scan(&got, &backend); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("%w: state %s: %w", executor.ErrNothingAttempted, s.where, err)
	}
	r := &runState{s: s, digest: digest, shard: s.Shard, key: key, backend: backend, lock: conn}
	r.host, _ = os.Hostname()
	r.pid, r.since = os.Getpid(), time.Now().UTC()
	if !got {
		var host string
		var pid int
		var since time.Time
		holder := ""
		if err := conn.QueryRow(cctx, "SELECT host, pid, started_at FROM upgradeplan.holders WHERE digest = $1 AND shard = $2",
			digest, s.Shard).Scan(&host, &pid, &since); err == nil {
			holder = executor.Holder(pid, host, since)
		}
		conn.Close(context.Background())
		return nil, &executor.LockedError{Path: r.Where(), What: "the plan", Holder: holder}
	}
	if _, err := conn.Exec(cctx, `INSERT INTO upgradeplan.holders (digest, shard, host, pid, started_at, lock_key, backend_pid)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (digest, shard) DO UPDATE SET host = $3, pid = $4, started_at = $5, lock_key = $6, backend_pid = $7`,
		digest, s.Shard, r.host, r.pid, r.since, key, backend); err != nil {
		r.Close()
		return nil, fmt.Errorf("%w: state %s: %w", executor.ErrNothingAttempted, s.where, err)
	}
	if err := r.sameShardCount(cctx); err != nil {
		r.Close()
		return nil, err
	}
	if err := s.pool.QueryRow(cctx, "SELECT EXISTS (SELECT 1 FROM upgradeplan.journal WHERE digest = $1 AND shard = $2)",
		digest, s.Shard).Scan(&r.existed); err != nil {
		r.Close()
		return nil, fmt.Errorf("%w: state %s: %w", executor.ErrNothingAttempted, s.where, err)
	}
	r.startKeepalive()
	return r, nil
}

// sameShardCount refuses (exit 4) a runner whose shard count is not the run's: the shards
// of another count N, or an unsharded runner beside sharded ones, deal the accounts out
// differently, so two runners would run one account's steps (its rate caps no longer with
// one runner), the shards of one count would judge again what the others finished, and
// the run's record could not be merged. The run's count is that of any shard with journal
// rows or a record, or whose runner holds its lock now (two runners starting at once see
// each other).
func (r *runState) sameShardCount(ctx context.Context) error {
	rows, err := r.s.pool.Query(ctx, `SELECT DISTINCT shard FROM upgradeplan.journal WHERE digest = $1
UNION SELECT shard FROM upgradeplan.records WHERE digest = $1
UNION SELECT h.shard FROM upgradeplan.holders h WHERE h.digest = $1 AND `+holdsLock("h.lock_key", "h.backend_pid"), r.digest)
	if err != nil {
		return fmt.Errorf("%w: state %s: %w", executor.ErrNothingAttempted, r.s.where, err)
	}
	shards, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("%w: state %s: %w", executor.ErrNothingAttempted, r.s.where, err)
	}
	for _, other := range shards {
		if shardCount(other) != shardCount(r.shard) {
			return fmt.Errorf("%w: the run of plan %s in %s is %s; this apply is %s: continue it with the same number of shards",
				executor.ErrRefused, short(r.digest), r.s.where, shardName(other), shardName(r.shard))
		}
	}
	return nil
}

// shardCount is N of a shard "I/N" (executor.Shard's form); "" (an unsharded run) is 0.
func shardCount(shard string) int {
	s, err := executor.ParseShard(shard)
	if err != nil {
		return 0
	}
	return s.Count
}

// shardName names a run's sharding in a message.
func shardName(shard string) string {
	if n := shardCount(shard); n > 0 {
		return fmt.Sprintf("sharded %d ways (--shard I/%d)", n, n)
	}
	return "unsharded"
}

package pgstate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// openTest opens a fresh database's state with the password in PGPASSWORD.
func openTest(t testing.TB) (*State, *pgtest.Server, string) {
	t.Helper()
	srv := pgtest.Start(t)
	db := srv.NewDatabase(t)
	t.Setenv("PGPASSWORD", srv.Password)
	st, err := Open(t.Context(), srv.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, srv, db
}

// A password in the URL is refused without repeating it; from PGPASSWORD or a PGPASSFILE
// it connects.
func TestThePasswordComesFromTheEnvironmentNeverTheURL(t *testing.T) {
	srv := pgtest.Start(t)
	db := srv.NewDatabase(t)
	t.Setenv("PGPASSWORD", "")
	for _, u := range []string{srv.URLWithPassword(db), srv.URL(db) + "&password=" + srv.Password} {
		_, err := Open(t.Context(), u)
		if !errors.Is(err, ErrPasswordInURL) {
			t.Errorf("Open(URL with a password) = %v, want ErrPasswordInURL", err)
		}
		if err != nil && strings.Contains(err.Error(), srv.Password) {
			t.Errorf("the refusal repeats the password: %v", err)
		}
	}
	pass := t.TempDir() + "/pgpass"
	os.WriteFile(pass, []byte("*:*:*:"+srv.User+":"+srv.Password+"\n"), 0o600)
	t.Setenv("PGPASSFILE", pass)
	st, err := Open(t.Context(), srv.URL(db))
	if err != nil {
		t.Fatalf("with a PGPASSFILE: %v", err)
	}
	st.Close()
}

// The schema is migrated once, by whichever runner comes first; a newer schema is refused.
func TestMigrationsApplyOnceAndANewerSchemaIsRefused(t *testing.T) {
	_, srv, db := openTest(t)
	st2, err := Open(t.Context(), srv.URL(db))
	if err != nil {
		t.Fatalf("second open: %v", err)
	}
	st2.Close()
	conn, err := pgx.Connect(t.Context(), srv.URLWithPassword(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n, v int
	conn.QueryRow(t.Context(), "SELECT count(*), max(version) FROM upgradeplan.schema_migrations").Scan(&n, &v)
	if n != SchemaVersion() || v != SchemaVersion() {
		t.Errorf("schema_migrations: %d rows, version %d; want %d", n, v, SchemaVersion())
	}
	conn.Exec(t.Context(), "INSERT INTO upgradeplan.schema_migrations (version, name) VALUES (9999, 'future')")
	if _, err := Open(t.Context(), srv.URL(db)); err == nil || !strings.Contains(err.Error(), "newer than this upgradeplan") {
		t.Errorf("a newer schema: %v", err)
	}
}

// A second apply of one plan anywhere gets a LockedError naming the first's host, pid and
// start time; once the first's connection is gone, the plan is free.
func TestThePlanLockNamesItsHolderAndDiesWithItsConnection(t *testing.T) {
	st, _, _ := openTest(t)
	ctx := t.Context()
	a, err := st.WithShard("0/2").Open(ctx, "d1", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.WithShard("0/2").Open(ctx, "d1", "")
	var le *executor.LockedError
	host, _ := os.Hostname()
	if !errors.As(err, &le) || !strings.Contains(le.Holder, host) || !strings.Contains(le.Holder, "pid ") {
		t.Fatalf("second open: %v, want a LockedError naming pid and host %s", err, host)
	}
	if code := executor.ExitCode(nil, err); code != executor.ExitLocked {
		t.Errorf("exit %d, want 5", code)
	}
	if b, err := st.WithShard("1/2").Open(ctx, "d1", ""); err != nil {
		t.Errorf("another shard of the plan is locked apart: %v", err)
	} else {
		b.Close()
	}
	// The connection dies (as with a killed runner): PostgreSQL releases the lock.
	a.(*runState).lock.Close(ctx)
	var c executor.RunState
	untilServerCaughtUp(func() bool { c, err = st.WithShard("0/2").Open(ctx, "d1", ""); return err == nil })
	if err != nil {
		t.Fatalf("after the holder's connection died: %v", err)
	}
	c.Close()
}

// Appended entries read back in order; the record round-trips; a lost lock connection
// refuses further appends.
func TestJournalAndRecordRoundTrip(t *testing.T) {
	st, _, _ := openTest(t)
	ctx := t.Context()
	r, err := st.Open(ctx, "d2", "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Existed() {
		t.Error("a new run existed")
	}
	for i, typ := range []string{executor.EntryBegin, executor.EntryIntent, executor.EntryResult, executor.EntryEnd} {
		if err := r.Append(ctx, executor.Entry{Time: time.Now().UTC(), Type: typ, StepID: "s", Attempt: i}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := r.ReadJournal(ctx)
	if err != nil || len(es) != 4 || es[1].Type != executor.EntryIntent || es[2].Attempt != 2 {
		t.Fatalf("journal = %+v, %v", es, err)
	}
	if err := r.WriteRecord(ctx, &executor.Record{Schema: executor.RecordSchema, Outcome: executor.Outcome{Result: "succeeded"}}); err != nil {
		t.Fatal(err)
	}
	if rec, err := r.ReadRecord(ctx); err != nil || rec.Outcome.Result != "succeeded" {
		t.Fatalf("record = %+v, %v", rec, err)
	}
	rs := r.(*runState)
	rs.lock.Close(ctx)
	rs.checkLock()
	if err := r.Append(ctx, executor.Entry{Type: executor.EntryStep}); err == nil {
		t.Error("an append after the lock's connection was lost succeeded")
	}
}

// The lock's connection dies and another runner takes the plan's lock before the keepalive
// notices: an intent (which licenses a call) is refused at once, since the INSERT checks
// that this runner's backend still holds the lock; without it, both runners could send.
func TestAnIntentIsRefusedOnceTheLockIsLostBeforeTheKeepaliveSeesIt(t *testing.T) {
	st, _, _ := openTest(t)
	ctx := t.Context()
	a, err := st.Open(ctx, "d-fence", "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	intent := executor.Entry{Time: time.Now().UTC(), Type: executor.EntryIntent, StepID: "s", Attempt: 1}
	if err := a.Append(ctx, intent); err != nil {
		t.Fatalf("an intent while the lock is held: %v", err)
	}
	// Kill only the lock's backend, as an admin's pg_terminate_backend or a reset would.
	if _, err := st.pool.Exec(ctx, "SELECT pg_terminate_backend($1)", a.(*runState).backend); err != nil {
		t.Fatal(err)
	}
	var b executor.RunState
	untilServerCaughtUp(func() bool { b, err = st.Open(ctx, "d-fence", ""); return err == nil })
	if err != nil {
		t.Fatalf("another runner could not take the lock: %v", err)
	}
	defer b.Close()
	intent.Attempt = 2
	if err := a.Append(ctx, intent); err == nil || !strings.Contains(err.Error(), "no longer held") {
		t.Fatalf("an intent after the lock was taken by another runner: %v; want refused", err)
	}
	if err := a.Append(ctx, executor.Entry{Type: executor.EntryStep}); err == nil {
		t.Error("an append after the lock was found lost succeeded")
	}
	es, err := b.ReadJournal(ctx)
	if err != nil || len(es) != 1 {
		t.Errorf("journal = %+v, %v; want only the first intent", es, err)
	}
}

// The lock is lost after the intent's INSERT passed the fence (the hook runs once it is
// committed, which the check after the commit cannot tell from a loss before it): the
// intent stands (the next holder reads it), but Append fails, so its call is not sent.
func TestAnIntentWhoseLockWasLostBeforeItsCommitIsNotActedOn(t *testing.T) {
	st, _, _ := openTest(t)
	ctx := t.Context()
	a, err := st.Open(ctx, "d-fence-2", "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	afterIntentInsert = func() {
		if _, err := st.pool.Exec(ctx, "SELECT pg_terminate_backend($1)", a.(*runState).backend); err != nil {
			t.Error(err)
		}
		untilServerCaughtUp(func() bool {
			var held bool
			st.pool.QueryRow(ctx, "SELECT "+holdsLock("$1", "$2"), a.(*runState).key, a.(*runState).backend).Scan(&held)
			return !held
		})
	}
	defer func() { afterIntentInsert = nil }()
	err = a.Append(ctx, executor.Entry{Time: time.Now().UTC(), Type: executor.EntryIntent, StepID: "s", Attempt: 1})
	if err == nil || !strings.Contains(err.Error(), "not to be acted on") {
		t.Fatalf("an intent whose lock was lost before its commit: %v; want an error", err)
	}
	afterIntentInsert = nil
	b, err := st.Open(ctx, "d-fence-2", "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if es, err := b.ReadJournal(ctx); err != nil || len(es) != 1 || es[0].Type != executor.EntryIntent {
		t.Errorf("the next holder's journal = %+v, %v; want the intent", es, err)
	}
}

// The fence finds the lock whatever the key's sign (pg_locks shows a bigint key as two
// unsigned 32-bit halves): an intent of a run holding its lock is written.
func TestTheIntentFenceFindsLocksOfEitherSign(t *testing.T) {
	st, _, _ := openTest(t)
	ctx := t.Context()
	seen := map[bool]bool{}
	for i := 0; len(seen) < 2 && i < 64; i++ {
		digest := fmt.Sprintf("d-sign-%d", i)
		negative := lockKey(digest, "") < 0
		if seen[negative] {
			continue
		}
		seen[negative] = true
		r, err := st.Open(ctx, digest, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Append(ctx, executor.Entry{Time: time.Now().UTC(), Type: executor.EntryIntent, StepID: "s", Attempt: 1}); err != nil {
			t.Errorf("key %d (negative %v): an intent while the lock is held: %v", lockKey(digest, ""), negative, err)
		}
		r.Close()
	}
	if len(seen) < 2 {
		t.Fatal("found no keys of both signs")
	}
}

// An instance's lease is one run's at a time; the same run takes it again; a dead
// runner's lease is taken over.
func TestInstanceLeasesKeepRunsApart(t *testing.T) {
	st, _, _ := openTest(t)
	ctx := t.Context()
	a, err := st.Open(ctx, "plan-a", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.Open(ctx, "plan-b", "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	k := executor.InstanceKey{Cloud: "alibaba", Account: "x", Region: "cn-hangzhou", Instance: "i-1"}
	relA, _, err := a.Lease(ctx, k, "t/i-1")
	if err != nil || relA == nil {
		t.Fatalf("first lease: %v", err)
	}
	k2 := k
	k2.Account = "named-otherwise"
	rel, holder, err := b.Lease(ctx, k2, "u/i-1")
	if err != nil || rel != nil || !strings.Contains(holder, "step t/i-1 of plan plan-a") {
		t.Fatalf("second run's lease: release %v, holder %q, %v; want refused naming step t/i-1 of plan-a", rel != nil, holder, err)
	}
	again, _, err := a.Lease(ctx, k, "t/i-1#2")
	if err != nil || again == nil {
		t.Fatalf("the holder's run could not take it again: %v", err)
	}
	relA()
	again()
	rel, _, err = b.Lease(ctx, k, "u/i-1")
	if err != nil || rel == nil {
		t.Fatalf("after release: %v", err)
	}
	rel()
	// a takes it and dies without releasing.
	if r, _, _ := a.Lease(ctx, k, "t/i-1"); r == nil {
		t.Fatal("retake")
	}
	a.(*runState).lock.Close(ctx)
	untilServerCaughtUp(func() bool { rel, holder, err = b.Lease(ctx, k, "u/i-1"); return rel != nil })
	if err != nil || rel == nil {
		t.Fatalf("a dead runner's lease was not taken over: holder %q, %v", holder, err)
	}
}

// untilServerCaughtUp retries f while the server has not yet ended the backend of a closed
// connection (it does so asynchronously), for at most ten seconds.
func untilServerCaughtUp(f func() bool) {
	for deadline := time.Now().Add(10 * time.Second); !f() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// Confirm, the fence of a resend that writes no intent of its own, passes while this
// runner's backend holds the plan's lock and fails once another runner took it.
func TestConfirmFailsOnceTheLockIsLost(t *testing.T) {
	st, _, _ := openTest(t)
	ctx := t.Context()
	a, err := st.Open(ctx, "d-confirm", "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	f, ok := a.(executor.Fenced)
	if !ok {
		t.Fatal("the PostgreSQL run state is not executor.Fenced: a resend after a throttle would go out unfenced")
	}
	if err := f.Confirm(ctx); err != nil {
		t.Fatalf("Confirm while the lock is held: %v", err)
	}
	if _, err := st.pool.Exec(ctx, "SELECT pg_terminate_backend($1)", a.(*runState).backend); err != nil {
		t.Fatal(err)
	}
	var b executor.RunState
	untilServerCaughtUp(func() bool { b, err = st.Open(ctx, "d-confirm", ""); return err == nil })
	if err != nil {
		t.Fatalf("another runner could not take the lock: %v", err)
	}
	defer b.Close()
	if err := f.Confirm(ctx); err == nil || !strings.Contains(err.Error(), "no longer held") {
		t.Errorf("Confirm after another runner took the lock: %v; want refused", err)
	}
}

// One plan's runners all use one shard count. Shards of another count, or an unsharded
// runner beside sharded ones, deal the accounts out differently (two runners would run one
// account's steps, its rate caps no longer with one runner) and leave records that cannot
// be merged: they are refused (exit 4) while a runner of the run holds its lock, and once
// the run has a journal or a record.
func TestAPlansRunnersUseOneShardCount(t *testing.T) {
	st, _, _ := openTest(t)
	ctx := t.Context()
	first, err := st.WithShard("0/2").Open(ctx, "d-shards", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range []string{"", "0/3", "1/1"} {
		r, err := st.WithShard(sh).Open(ctx, "d-shards", "")
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, executor.ErrRefused) || !strings.Contains(fmt.Sprint(err), "sharded 2 ways") {
			t.Errorf("shard %q beside a runner of shard 0/2: %v; want refused, naming the run's 2 shards", sh, err)
		}
	}
	second, err := st.WithShard("1/2").Open(ctx, "d-shards", "")
	if err != nil {
		t.Fatalf("the run's other shard: %v", err)
	}
	if err := first.Append(ctx, executor.Entry{Time: time.Now().UTC(), Type: executor.EntryBegin}); err != nil {
		t.Fatal(err)
	}
	first.Close()
	second.Close()
	if r, err := st.Open(ctx, "d-shards", ""); err == nil || !errors.Is(err, executor.ErrRefused) {
		if r != nil {
			r.Close()
		}
		t.Errorf("an unsharded runner once the sharded run has a journal: %v; want refused", err)
	}
}

package reliability

// The PostgreSQL run state (executor/pgstate) end to end: the command line against the
// simulator and a throwaway PostgreSQL (internal/pgtest).

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/internal/pgtest"
)

// pgState starts (or reuses) the test server and returns a fresh database's state URL
// (no password), the environment entry that carries the password, and a direct connection.
func pgState(t *testing.T) (url string, pass string, conn *pgx.Conn) {
	t.Helper()
	srv := pgtest.Start(t)
	db := srv.NewDatabase(t)
	conn, err := pgx.Connect(t.Context(), srv.URLWithPassword(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return srv.URL(db), "PGPASSWORD=" + srv.Password, conn
}

// runnerDir is a fresh working directory holding nothing but a copy of the plan file: a
// runner on another machine.
func runnerDir(t *testing.T, planPath string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(planPath)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "plan.json", string(b))
	return dir
}

func count(t *testing.T, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		return -1
	}
	return n
}

// A runner killed (SIGKILL) at seeded moments is continued each time by another runner
// process in another working directory with no local files, by the same `apply PLAN
// --state URL`; the last one finishes. Every instance is upgraded exactly once, and the
// run's record in the database accounts for every runner.
func TestPostgresStateARunKilledIsContinuedByAnotherRunnerElsewhere(t *testing.T) {
	url, pass, conn := pgState(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill delays seeded with %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e))
	const faults = `rules:
  - {action: UpgradeInstanceVersion, fault: latency, latency: 15ms}
  - {action: UpgradeDBInstanceKernelVersion, fault: latency, latency: 15ms}
  - {action: UpdateInstance, fault: latency, latency: 15ms}
  - {action: UpgradeServiceInstance, fault: latency, latency: 15ms}
  - {action: UpgradeInstance, fault: latency, latency: 15ms}
`
	f := each(20)
	s := startSim(t, simState(f), faults, 200)
	env := cliEnv(s, pass)
	planPath, p := planFleet(t, t.TempDir(), env, fleetManifest(f, 16, "50ms", 400))

	const kills = 5
	for i := range kills {
		dir := runnerDir(t, planPath)
		cmd := exec.Command(cliBinary, "apply", "plan.json", "--state", url, "--out", "reports")
		cmd.Dir, cmd.Env = dir, env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		// Kill once this runner wrote some intents of its own (1 to 10) after its begin.
		before := count(t, conn, "SELECT count(*) FROM upgradeplan.journal WHERE type = 'intent'")
		want := before + 1 + rng.IntN(10)
		deadline := time.Now().Add(30 * time.Second)
		for count(t, conn, "SELECT count(*) FROM upgradeplan.journal WHERE type = 'intent'") < want {
			select {
			case err := <-exited:
				t.Fatalf("runner %d ended before its kill (%v)\n%s", i+1, err, lastLines(stderr.String(), 5))
			case <-time.After(2 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("runner %d: kill point not reached\n%s", i+1, lastLines(stderr.String(), 5))
			}
		}
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		cmd.Process.Kill()
		<-exited
		t.Logf("runner %d killed with %d intents in the journal", i+1, count(t, conn, "SELECT count(*) FROM upgradeplan.journal WHERE type = 'intent'"))
	}
	dir := runnerDir(t, planPath)
	final := cli(t, dir, env, "apply", "plan.json", "--state", url, "--out", "reports")
	if final.code != 0 {
		t.Fatalf("the runner that continued the run: %s", final)
	}
	rec := readRecord(t, filepath.Join(dir, "reports"))
	checkAllSucceeded(t, p, rec)
	checkOneUpgradePerChange(t, p, s.Calls())
	checkNoRefusedUpgrades(t, s.Calls(), func(c sim.CallRecord) bool {
		return c.Fault == string(sim.FaultLatency) && c.Code == "InternalError"
	})
	if len(rec.Segments) != kills+1 {
		t.Errorf("run.json lists %d segments, want %d (every runner)", len(rec.Segments), kills+1)
	}
	for k, seg := range rec.Segments[:len(rec.Segments)-1] {
		if !strings.HasPrefix(seg.Stop, "killed") {
			t.Errorf("segment %d stop %q, want killed", k+1, seg.Stop)
		}
	}
	// A second apply while one holds the plan exits 5 naming the holder; with the password
	// in the URL the command refuses before connecting, without repeating it.
	pw := strings.TrimPrefix(pass, "PGPASSWORD=")
	bad := strings.Replace(url, "postgres://upgradeplan@", "postgres://upgradeplan:"+pw+"@", 1)
	r := cli(t, dir, cliEnv(s), "apply", "plan.json", "--state", bad, "--out", "x")
	if r.code != 1 || strings.Contains(r.stdout+r.stderr, pw) || !strings.Contains(r.stderr, "PGPASSWORD") {
		t.Errorf("a password in the URL: want exit 1 naming PGPASSWORD, never the password: %s", r)
	}
}

// Two runners apply the same plan at once from two machines: one runs it, the other exits 5
// naming the first's host and pid.
func TestPostgresStateASecondApplyAnywhereExitsFiveNamingTheHolder(t *testing.T) {
	url, pass, _ := pgState(t)
	f := fleetSize{kafka: 4}
	s := startSim(t, simState(f), "", 20)
	env := cliEnv(s, pass)
	planPath, _ := planFleet(t, t.TempDir(), env, fleetManifest(f, 1, "50ms", 400))
	first := exec.Command(cliBinary, "apply", "plan.json", "--state", url, "--out", "reports")
	first.Dir, first.Env = runnerDir(t, planPath), env
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Wait()
	defer first.Process.Kill()
	time.Sleep(500 * time.Millisecond)
	r := cli(t, runnerDir(t, planPath), env, "apply", "plan.json", "--state", url, "--out", "reports")
	host, _ := os.Hostname()
	if r.code != 5 || !strings.Contains(r.stderr, host) || !strings.Contains(r.stderr, "pid ") {
		t.Errorf("second apply: want exit 5 naming the holder's pid and host %s: %s", host, r)
	}
}

// Two plans over the same instances (the fleet planned twice: two digests) are applied at
// once by two runners sharing a state database: every instance is upgraded exactly once,
// the second plan's steps waiting for the first's leases and then finding nothing to do.
func TestPostgresStateTwoPlansOverSharedInstancesNeverUpgradeOneTwice(t *testing.T) {
	url, pass, _ := pgState(t)
	f := each(10)
	s := startSim(t, simState(f), "", 100)
	env := cliEnv(s, pass)
	planDir := t.TempDir()
	pathA, p := planFleet(t, planDir, env, fleetManifest(f, 8, "50ms", 400))
	dirA := runnerDir(t, pathA)
	time.Sleep(1100 * time.Millisecond) // another created_at: another digest
	pathB, pB := planFleet(t, planDir, env, fleetManifest(f, 8, "50ms", 400))
	if pB.Digest == p.Digest {
		t.Fatal("the two plans share a digest")
	}
	dirB := runnerDir(t, pathB)
	var wg sync.WaitGroup
	var ra, rb result
	wg.Add(2)
	go func() {
		defer wg.Done()
		ra = cli(t, dirA, env, "apply", "plan.json", "--state", url, "--out", "reports")
	}()
	go func() {
		defer wg.Done()
		rb = cli(t, dirB, env, "apply", "plan.json", "--state", url, "--out", "reports")
	}()
	wg.Wait()
	for _, r := range []result{ra, rb} {
		if r.code != 0 {
			t.Errorf("apply: %s", r)
		}
	}
	checkOneUpgradePerChange(t, p, s.Calls())
}

package reliability

// The randomized checker with the PostgreSQL run state (issue 16): the scenarios of
// checker_test.go, generated and checked by the same code, with every segment of the main
// run a runner of its own (`apply plan.json --state URL` from a fresh working directory
// holding only a copy of the plan, killed with SIGKILL at the scenario's moments and
// continued by the next), and the second apply a second plan over the same instances
// applied at once through the same state database: zero double upgrades (ground truth
// /_sim/applied), a step waiting for the other plan's lease says so naming it, and one that
// waited past stepTimeout fails naming the holder. checker_shard_test.go runs the shards.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/executor/pgstate"
	"github.com/upgradeplan/upgradeplan/planner"
)

var checkerPGRuns = flag.Int("checker.pgruns", 2, "how many randomized checker scenarios run with the PostgreSQL state (TestRandomizedCheckerPostgres, without -soak.duration)")

// pgRun is the state database of one scenario.
type pgRun struct {
	url  string    // no password in it
	pass string    // PGPASSWORD=…
	conn *pgx.Conn // the test's own connection, used from the test's goroutine only
}

func newPGRun(t *testing.T) *pgRun {
	url, pass, conn := pgState(t)
	return &pgRun{url: url, pass: pass, conn: conn}
}

func TestRandomizedCheckerPostgres(t *testing.T) {
	forSeeds(t, "TestRandomizedCheckerPostgres", *checkerPGRuns, func(t *testing.T, seed uint64) {
		sc := newScenario(seed)
		sc.forPostgres()
		runChecked(t, seed, "TestRandomizedCheckerPostgres", sc, newPGRun(t))
	})
}

// forPostgres adapts a scenario to the PostgreSQL state. With a second plan over the same
// instances no upgrade is made to fail: after one plan's upgrade failed, the other plan's
// step finds the instance still at its from and tries once more, a second attempt of its
// own that the simulator would count as a second change.
func (sc *scenario) forPostgres() {
	if sc.second != secondNone {
		sc.failing, sc.maxFailures = nil, -1
	}
}

// pgBegins counts the begin entries of the main run in the state database.
func (h *history) pgBegins() int {
	var n int
	if err := h.pg.conn.QueryRow(context.Background(),
		"SELECT count(*) FROM upgradeplan.journal WHERE digest = $1 AND type = $2", h.plan.Digest, executor.EntryBegin).Scan(&n); err != nil {
		return 0 // before the first apply migrated the schema
	}
	return n
}

// checkPGState checks after a segment that every journal entry and run record the database
// holds for the run decodes, and the reports the segment wrote, if any.
func (h *history) checkPGState(seg segment, reports string) {
	ctx := context.Background()
	for _, q := range []struct{ what, sql string }{
		{"journal entry", "SELECT entry FROM upgradeplan.journal WHERE digest = $1 ORDER BY id"},
		{"run record", "SELECT record FROM upgradeplan.records WHERE digest = $1"},
	} {
		rows, err := h.pg.conn.Query(ctx, q.sql, h.plan.Digest)
		if err != nil {
			continue // before the first apply migrated the schema
		}
		for rows.Next() {
			var b []byte
			var v any
			if err := rows.Scan(&b); err == nil {
				if q.what == "journal entry" {
					v = &executor.Entry{}
				} else {
					v = &executor.Record{}
				}
				err = json.Unmarshal(b, v)
			}
			if err != nil {
				h.problems = append(h.problems, fmt.Sprintf("after %s a %s in the state does not decode: %v", seg, q.what, err))
			}
		}
		rows.Close()
	}
	if _, err := os.Stat(filepath.Join(reports, executor.RecordFile)); err == nil {
		if _, err := executor.ReadRecord(filepath.Join(reports, executor.RecordFile)); err != nil {
			h.problems = append(h.problems, fmt.Sprintf("after %s its reports' run.json does not parse: %v", seg, err))
		}
	}
}

// pgReport writes the run's record as `report --state URL --run ID` renders it into a
// directory of its own and returns that directory.
func (h *history) pgReport(t *testing.T, env []string) string {
	dir := filepath.Join(h.dir, "final")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := cli(t, dir, env, "report", "--state", h.pg.url, "--run", h.plan.Digest[:16], "--format", "json")
	if r.code != 0 {
		h.problems = append(h.problems, fmt.Sprintf("report --state --run: %s", r))
		return dir
	}
	writeFile(t, dir, executor.RecordFile, r.stdout)
	return dir
}

// prepareSecondPlan plans the fleet a second time as another plan (another name, so another
// digest) with the same steps, to be applied from a working directory of its own through
// the same state database, with the second credentials.
func (h *history) prepareSecondPlan(t *testing.T, env []string, sc *scenario) []string {
	t.Helper()
	if sc.second == secondNone {
		return nil
	}
	m := strings.Replace(sc.manifest(h.cutoffAt), "metadata: {name: checker,", "metadata: {name: checker-b,", 1)
	path := h.planWithRetries(t, env, "fleet-b.yaml", "plan-b.json", m)
	p, err := planner.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Digest == h.plan.Digest {
		t.Fatal("the second plan has the first's digest")
	}
	h.secondPlan = p
	h.secondDir = runnerDir(t, path)
	h.secondOut = filepath.Join(h.secondDir, "reports")
	return []string{"apply", "plan.json", "--state", h.pg.url, "--out", "reports"}
}

// leasedBy is how a waiting step names the run that holds its instance.
var leasedBy = regexp.MustCompile(`leased by step (\S+) of plan ([0-9a-f]+), pid \d+ on \S+ since [0-9TZ:-]+`)

// secondPlanRan checks the second plan of a PostgreSQL scenario: nothing refused it (it is
// another plan); every wait for a lease either run logged names a step of the other plan
// on the same instance; every step that gave up waiting names its holder.
func (c *checker) secondPlanRan(sc *scenario) []string {
	s := c.h.second
	if s == nil {
		return nil
	}
	var v []string
	if s.code == 4 || s.code == 5 || s.code < 0 {
		v = append(v, fmt.Sprintf("the second plan exited %d; it is another plan, nothing may refuse it\n%s", s.code, lastLines(s.stderr, 5)))
	}
	check := func(label, stderr, other string) {
		for _, m := range leasedBy.FindAllStringSubmatch(stderr, -1) {
			if !strings.HasPrefix(other, m[2]) {
				v = append(v, fmt.Sprintf("%s waited for a lease held by plan %s, not the other plan %s: %s", label, m[2], other[:12], m[0]))
			}
			if _, ok := c.steps[m[1]]; !ok {
				v = append(v, fmt.Sprintf("%s waited for a lease held by step %s, which no plan has: %s", label, m[1], m[0]))
			}
		}
	}
	check("the second plan", s.stderr, c.h.plan.Digest)
	for _, seg := range c.h.segments {
		check(seg.name, seg.stderr, c.h.secondPlan.Digest)
	}
	for label, rec := range map[string]*runRecord{"main run": c.h.record, "second plan": c.h.secondRecord} {
		if rec == nil {
			continue
		}
		for _, r := range rec.Steps {
			if r.Error != nil && r.Error.Code == executor.LeaseCode && !leasedBy.MatchString(r.Error.Message) {
				v = append(v, fmt.Sprintf("%s: %s gave up waiting for its lease without naming the holder: %s", label, r.ID, r.Error.Message))
			}
		}
	}
	return v
}

// A step whose instance another plan's runner holds says so while it waits, naming the
// holder, and once it waited past its stepTimeout fails with InstanceLeased naming the
// holder, having sent nothing to that instance; the fleet's other steps go on.
func TestPostgresStateAStepWaitingForAnotherPlansLeaseNamesItAndGivesUp(t *testing.T) {
	url, pass, _ := pgState(t)
	f := fleetSize{kafka: 3}
	s := startSim(t, simState(f), "", 100)
	env := cliEnv(s, pass)
	manifest := strings.Replace(fleetManifest(f, 4, "50ms", 400), "stepTimeout: 2m", "stepTimeout: 3s", 1)
	planPath, p := planFleet(t, t.TempDir(), env, manifest)

	// The other plan's runner: its plan lock and a lease on one instance, held throughout.
	t.Setenv("PGPASSWORD", strings.TrimPrefix(pass, "PGPASSWORD="))
	st, err := pgstate.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	other, err := st.Open(t.Context(), "0123456789abcdef", "")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	held := "alikafka-rel-001"
	if rel, _, err := other.Lease(t.Context(), executor.InstanceKey{Cloud: "alibaba", Region: "cn-hangzhou", Instance: held}, "other/"+held); err != nil || rel == nil {
		t.Fatalf("the other plan's lease: %v", err)
	}

	dir := runnerDir(t, planPath)
	r := cli(t, dir, env, "apply", "plan.json", "--state", url, "--out", "reports")
	if r.code != executor.ExitFailed {
		t.Errorf("apply: want exit %d (a step failed): %s", executor.ExitFailed, r)
	}
	if !strings.Contains(r.stderr, "waiting for instance alibaba/default/cn-hangzhou/"+held+": leased by step other/"+held+" of plan 0123456789ab") {
		t.Errorf("the waiting step does not say what it waits for:\n%s", lastLines(r.stderr, 10))
	}
	for _, st := range readRecord(t, filepath.Join(dir, "reports")).Steps {
		switch {
		case st.Instance == held && (st.Status != executor.StatusFailed || st.Error == nil || st.Error.Code != executor.LeaseCode ||
			!leasedBy.MatchString(st.Error.Message) || !strings.Contains(st.Error.Message, "stepTimeout 3s")):
			t.Errorf("%s: %s %+v; want failed with %s naming the holder and the stepTimeout", st.ID, st.Status, st.Error, executor.LeaseCode)
		case st.Instance != held && st.Status != executor.StatusSucceeded:
			t.Errorf("%s: %s (%s); the other instances' steps should go on", st.ID, st.Status, st.Reason)
		}
	}
	for _, c := range s.Calls() {
		if c.Instance == held && mutatingActions[c.Action] {
			t.Errorf("a mutating call reached the leased instance: %s", c.Action)
		}
	}
	if len(p.Steps) != 3 {
		t.Fatalf("the plan has %d steps, want 3", len(p.Steps))
	}
}

// A plan applied right after another plan changed the same instances through the same state
// database waits, before it sends its own call to each of them, until the other plan's
// change can show in reads (the kind's visibility grace from when that step let the
// instance go), and says so. The step is a latestMinor upgrade: the API cannot tell before
// the call whether the minor version is the latest, so each plan sends its own call.
func TestPostgresStateAPlanAfterAnotherWaitsForItsChangesToShow(t *testing.T) {
	url, pass, conn := pgState(t)
	state := simHeader + "kafka:\n"
	for i := range 2 {
		state += fmt.Sprintf("  - {id: alikafka-min-%03d, region: cn-hangzhou, account: demo-ali, status: running, version: 2.2.0, minorLatest: false, tags: {env: rel}}\n", i)
	}
	s := startSim(t, state, "", 100)
	env := cliEnv(s, pass)
	manifest := strings.Replace(fleetManifest(fleetSize{kafka: 2}, 4, "50ms", 400), `desired: {version: "2.2.0"}`, `desired: {version: "2.2.0", latestMinor: true}`, 1)
	manifest = strings.Replace(manifest, "    canary: 1\n", "", 1) // both at once: both wait
	dir := t.TempDir()
	pathA, _ := planFleet(t, dir, env, manifest)
	dirA := runnerDir(t, pathA)
	time.Sleep(1100 * time.Millisecond) // another created_at: another digest
	pathB, _ := planFleet(t, dir, env, manifest)
	if r := cli(t, dirA, env, "apply", "plan.json", "--state", url, "--out", "reports"); r.code != 0 {
		t.Fatalf("plan A: %s", r)
	}
	// When A's step let each instance go, as the state recorded it: B's wait counts from
	// there (A's exit comes later, after its reports).
	released := map[string]time.Time{}
	rows, err := conn.Query(t.Context(), "SELECT instance, changed_at FROM upgradeplan.leases WHERE changed_at IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var inst string
		var at time.Time
		if err := rows.Scan(&inst, &at); err != nil {
			t.Fatal(err)
		}
		released[inst] = at
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(released) != 2 {
		t.Fatalf("the state recorded A's change of %d instances, want 2: %v", len(released), released)
	}
	const grace = 3 * time.Second
	r := cli(t, runnerDir(t, pathB), append(env, "UPGRADEPLAN_VISIBILITY_GRACE="+grace.String()), "apply", "plan.json", "--state", url, "--out", "reports")
	if r.code != 0 {
		t.Fatalf("plan B: %s", r)
	}
	if n := strings.Count(r.stderr, "was changed by another run's step"); n < 2 {
		t.Errorf("plan B said %d times that it waits for another run's change to show, want 2 (one per instance):\n%s", n, lastLines(r.stderr, 10))
	}
	// B's call to each instance comes a grace after A's step let it go (the simulator
	// stamps a call when it arrives, after B sent it; 50 ms for the clocks' reading).
	for _, c := range s.Calls() {
		at, ok := released[c.Instance]
		if isUpgrade(c) && ok && c.Time.After(at) && c.Time.Before(at.Add(grace-50*time.Millisecond)) {
			t.Errorf("plan B upgraded %s %s after plan A's step let it go, within the visibility grace of A's change", c.Instance, c.Time.Sub(at).Round(time.Millisecond))
		}
	}
}

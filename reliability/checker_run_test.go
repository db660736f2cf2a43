package reliability

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/planner"
)

// segment is one apply process of a scenario.
type segment struct {
	name       string
	args       []string
	start, end time.Time
	code       int // exit code; -1 when killed
	killed     bool
	stoppedAt  time.Time // when SIGTERM was sent; zero if never
	stderr     string
}

func (s segment) String() string {
	how := fmt.Sprintf("exit %d", s.code)
	if s.killed {
		how = "killed"
	}
	return fmt.Sprintf("%s (%s after %s)", s.name, how, s.end.Sub(s.start).Round(time.Millisecond))
}

// history is what one scenario did and what the simulator saw.
type history struct {
	dir, out string
	lockDir  string
	// pg is the state database of a scenario run with --state (nil: run directories);
	// lockedRetries counts the segments refused while a killed one's lock was let go.
	pg            *pgRun
	lockedRetries int
	// secondDir is the second apply's working directory; secondPlan its plan when it is
	// another plan (with pg), nil when it applies the main run's plan.
	secondDir  string
	secondPlan *planner.Plan
	plan       *planner.Plan
	planCalls  int // calls made before the first apply
	cutoffAt   time.Time
	segments   []segment
	second     *segment
	secondOut  string
	actors     []string // what the actors were scheduled to do

	applied []sim.AppliedChange
	calls   []sim.CallRecord
	state   map[string]map[string]any // final fields per instance, in the plan's names
	record  *runRecord                // the final run.json
	// secondRecord is the second apply's run.json, nil if it wrote none.
	secondRecord *runRecord
	// problems are invariant violations found while running: unreadable journals or
	// records, a second apply that was not refused, a final run that did not end.
	problems []string
}

// proc is a running apply.
type proc struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{}
	seg    segment
}

func launch(t *testing.T, dir string, env []string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(cliBinary, args...), done: make(chan struct{}), seg: segment{name: name, args: args}}
	p.cmd.Dir, p.cmd.Env = dir, env
	p.cmd.Stderr = &p.stderr
	p.seg.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		p.seg.end = time.Now()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee) && !ee.Exited():
			p.seg.code = -1
		case errors.As(err, &ee):
			p.seg.code = ee.ExitCode()
		case err != nil:
			p.seg.code = -2
		}
		p.seg.stderr = p.stderr.String()
		close(p.done)
	}()
	return p
}

// wait waits for the process to end, killing it after limit; ok is false then.
func (p *proc) wait(limit time.Duration) (segment, bool) {
	select {
	case <-p.done:
		return p.seg, true
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.seg.killed = true
		return p.seg, false
	}
}

// killAfter sends SIGKILL after d unless the process ended first.
func (p *proc) killAfter(d time.Duration) segment {
	select {
	case <-p.done:
		return p.seg
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.seg.killed = true
		return p.seg
	}
}

// stopAfter sends SIGTERM after d unless the process ended first, then waits.
func (p *proc) stopAfter(d time.Duration, limit time.Duration) (segment, bool) {
	select {
	case <-p.done:
		return p.seg, true
	case <-time.After(d):
		p.seg.stoppedAt = time.Now()
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	stopped := p.seg.stoppedAt
	seg, ok := p.wait(limit)
	seg.stoppedAt = stopped
	return seg, ok
}

// runHistory runs one scenario: plan, the segments of the apply (kills and resumes, a
// stop, a last resume), a concurrent second apply, and collects what the simulator saw.
//
// With pg (checker_pg_test.go) every segment of the main run is `apply plan.json --state
// URL` from a working directory of its own holding nothing but a copy of the plan (a
// runner on another machine), and the second apply is a second plan over the same
// instances, applied at once through the same state database.
func runHistory(t *testing.T, sc *scenario, pg *pgRun) *history {
	s := startSim(t, sc.state(), sc.faults(), checkerScale)
	h := &history{dir: t.TempDir(), pg: pg}
	h.out = filepath.Join(h.dir, "run")
	// Both applies share one lock directory (one machine): its digest locks and ledger are
	// what refuse the second apply.
	h.lockDir = filepath.Join(h.dir, "locks")
	// Upgrades take 20 s simulated, 200 ms of wall clock: the shortest busy spell a change
	// shows is that short here (the products declare a minute).
	env := cliEnv(s, executor.LockDirEnv+"="+h.lockDir, "UPGRADEPLAN_SHORTEST_OPERATION=150ms",
		"UPGRADEPLAN_LOOK_FRESHNESS="+lookFreshness.String())
	if pg != nil {
		env = append(env, pg.pass)
	}
	if sc.cutoffAfter > 0 {
		h.cutoffAt = time.Now().Add(sc.cutoffAfter)
	}
	planPath := h.planWithRetries(t, env, "fleet.yaml", "plan.json", sc.manifest(h.cutoffAt))
	h.planCalls = len(s.Calls())
	secondArgs := h.prepareSecond(t, env, sc)

	simStart := s.Now()
	for i, a := range sc.actors {
		name := fmt.Sprintf("actor-%d", i+1)
		if err := s.ActAt(name, simStart.Add(a.after*checkerScale), a.instance, a.set); err != nil {
			t.Fatalf("actor %s: %v", name, err)
		}
		h.actors = append(h.actors, fmt.Sprintf("%s sets %s %v at +%s", name, a.instance, a.set, a.after))
	}

	// args returns the next segment's working directory and arguments.
	args := func() (string, []string) {
		if pg != nil {
			return runnerDir(t, planPath), []string{"apply", "plan.json", "--state", pg.url, "--out", "reports"}
		}
		if entries, err := executor.ReadJournal(h.out); err == nil && len(entries) > 0 {
			return h.dir, []string{"apply", planPath, "--resume", h.out}
		}
		return h.dir, []string{"apply", planPath, "--out", h.out}
	}
	var second *proc
	// The second apply starts secondAfter once a segment of the main run holds the plan
	// (its begin entry is journaled, after the ledger names its run directory): which of
	// two racing starts claims the plan is not the point.
	startSecond := func(main *proc, begins int) {
		if secondArgs == nil || second != nil || sc.secondBetween || !h.waitForBegin(main, begins) {
			return
		}
		time.Sleep(sc.secondAfter)
		second = launch(t, h.secondDir, append(env, secondCredentials...), "second apply", secondArgs...)
	}
	// segment runs one apply of the main run with do (kill, stop or wait). One refused
	// because the second apply holds the plan (exit 5) is run again once that ended.
	runSegment := func(label string, do func(*proc) (segment, bool)) segment {
		for {
			begins := h.begins()
			dir, a := args()
			p := launch(t, dir, env, fmt.Sprintf("segment %d%s", len(h.segments)+1, label), a...)
			startSecond(p, begins)
			seg, ok := do(p)
			h.addSegment(seg, dir)
			if !ok {
				h.problems = append(h.problems, fmt.Sprintf("%s did not finish within 90 s\n%s", seg.name, lastLines(seg.stderr, 10)))
			}
			if pg != nil && seg.code == 5 && h.lockedRetries < 20 {
				// The killed runner's connection is not yet seen closed by the server: its
				// advisory lock goes with it a moment later.
				h.lockedRetries++
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if seg.code != 5 || second == nil || h.second != nil {
				return seg
			}
			h.waitSecond(second)
		}
	}
	ended := false // a segment ended on its own: the run is over (done, or stopped by window or budget)
	for _, d := range sc.kills {
		seg := runSegment("", func(p *proc) (segment, bool) { return p.killAfter(d), true })
		if !seg.killed {
			ended = true
			break
		}
		if sc.secondBetween && secondArgs != nil && second == nil && h.begins() > 0 {
			// The main run claimed the plan and no segment is alive.
			second = launch(t, h.secondDir, append(env, secondCredentials...), "second apply", secondArgs...)
			h.waitSecond(second)
		}
	}
	if !ended && sc.stopAfter > 0 {
		seg := runSegment(" (stopped)", func(p *proc) (segment, bool) { return p.stopAfter(sc.stopAfter, 90*time.Second) })
		ended = seg.stoppedAt.IsZero() && !seg.killed
	}
	if !ended {
		runSegment(" (last)", func(p *proc) (segment, bool) { return p.wait(90 * time.Second) })
	}
	if second != nil && h.second == nil {
		h.waitSecond(second)
	}

	// Let every accepted change land before the simulator is read: the longest lag and
	// an upgrade at the time scale.
	time.Sleep(time.Second)
	h.applied, h.calls = s.Applied(), s.Calls()
	h.state = observedState(t, s)
	if pg != nil {
		h.out = h.pgReport(t, env)
	}
	h.record = readRunRecord(h.out)
	return h
}

// begins counts the begin entries of the main run's journal.
func (h *history) begins() int {
	if h.pg != nil {
		return h.pgBegins()
	}
	entries, _ := executor.ReadJournal(h.out)
	n := 0
	for _, e := range entries {
		if e.Type == executor.EntryBegin {
			n++
		}
	}
	return n
}

// waitForBegin waits until the main run's journal has more than before begin entries (the
// segment holds the plan's lock); false if the segment ended (or was killed) first.
func (h *history) waitForBegin(main *proc, before int) bool {
	for {
		if h.begins() > before {
			return true
		}
		select {
		case <-main.done:
			return false
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// waitSecond waits for the second apply and checks its run directory.
func (h *history) waitSecond(p *proc) {
	seg, ok := p.wait(60 * time.Second)
	h.second = &seg
	if !ok {
		h.problems = append(h.problems, "the second apply did not finish within 60 s")
	}
	h.checkRunDir(seg, h.secondOut)
	h.secondRecord = readRunRecord(h.secondOut)
}

// planWithRetries plans the manifest (a fault may fail a plan's reads for good: the plan
// is tried three times).
func (h *history) planWithRetries(t *testing.T, env []string, manifest, planFile, content string) string {
	t.Helper()
	writeFile(t, h.dir, manifest, content)
	var r result
	for range 3 {
		if r = cli(t, h.dir, env, "plan", manifest, "-o", planFile); r.code == 0 {
			path := filepath.Join(h.dir, planFile)
			p, err := planner.ReadFile(path)
			if err != nil {
				t.Fatalf("the plan does not read back: %v", err)
			}
			if h.plan == nil {
				h.plan = p
			}
			return path
		}
	}
	t.Fatalf("plan failed three times: %s", firstLines(r, 20))
	return ""
}

// prepareSecond readies the second, concurrent apply and returns its arguments (nil for
// none).
func (h *history) prepareSecond(t *testing.T, env []string, sc *scenario) []string {
	t.Helper()
	h.secondDir = h.dir
	if h.pg != nil {
		return h.prepareSecondPlan(t, env, sc)
	}
	mode := sc.second
	if mode == secondReplan {
		path := h.planWithRetries(t, env, "fleet.yaml", "replan.json", sc.manifest(h.cutoffAt))
		p, err := planner.ReadFile(path)
		if err == nil && p.Digest == h.plan.Digest {
			h.secondOut = filepath.Join(h.dir, "run-replan")
			return []string{"apply", path, "--out", h.secondOut}
		}
		mode = secondCopy // a re-plan in another second is another reviewed plan
	}
	switch mode {
	case secondCopy:
		b, err := os.ReadFile(filepath.Join(h.dir, "plan.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(h.dir, "copy"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(h.dir, "copy"), "plan.json", string(b))
		h.secondOut = filepath.Join(h.dir, "copy", "run")
		return []string{"apply", filepath.Join("copy", "plan.json"), "--out", h.secondOut}
	case secondSameFile:
		h.secondOut = filepath.Join(h.dir, "run-second")
		return []string{"apply", "plan.json", "--out", h.secondOut}
	}
	return nil
}

func (h *history) addSegment(seg segment, dir string) {
	h.segments = append(h.segments, seg)
	if h.pg != nil {
		h.checkPGState(seg, filepath.Join(dir, "reports"))
		return
	}
	h.checkRunDir(seg, h.out)
}

// checkRunDir checks that a run directory's journal and run.json parse after a segment
// (after a kill too: a torn last journal line is the only thing a crash may leave).
func (h *history) checkRunDir(seg segment, dir string) {
	raw, err := os.ReadFile(filepath.Join(dir, executor.JournalFile))
	if err == nil {
		if _, err := executor.ReadJournal(dir); err != nil {
			h.problems = append(h.problems, fmt.Sprintf("after %s the journal does not parse: %v", seg, err))
		}
		lines := bytes.Split(raw, []byte("\n"))
		for i, line := range lines {
			last := i == len(lines)-1
			if len(line) == 0 || last && seg.killed {
				continue
			}
			if !json.Valid(line) {
				h.problems = append(h.problems, fmt.Sprintf("after %s journal line %d is not JSON: %.80q", seg, i+1, line))
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, executor.RecordFile)); err == nil {
		if _, err := executor.ReadRecord(filepath.Join(dir, executor.RecordFile)); err != nil {
			h.problems = append(h.problems, fmt.Sprintf("after %s run.json does not parse: %v", seg, err))
		}
	}
}

// runRecord is the part of run.json the checker compares with the simulator.
type runRecord struct {
	Outcome struct {
		Result   string `json:"result"`
		Reason   string `json:"reason"`
		ExitCode int    `json:"exit_code"`
	} `json:"outcome"`
	Steps []stepRecord `json:"steps"`
}

type stepRecord struct {
	ID         string         `json:"id"`
	Instance   string         `json:"instance"`
	Status     string         `json:"status"`
	Reason     string         `json:"reason"`
	Notes      []string       `json:"notes"`
	From       map[string]any `json:"from"`
	To         map[string]any `json:"to"`
	Before     map[string]any `json:"before"`
	Attempts   int            `json:"attempts"`
	RequestIDs []string       `json:"request_ids"`
	Error      *struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

func readRunRecord(dir string) *runRecord {
	b, err := os.ReadFile(filepath.Join(dir, executor.RecordFile))
	if err != nil {
		return nil
	}
	var r runRecord
	if json.Unmarshal(b, &r) != nil {
		return nil
	}
	return &r
}

// observedState reads every instance's fields from /_sim/state, in the plan's names.
func observedState(t *testing.T, s interface {
	State() (json.RawMessage, error)
}) map[string]map[string]any {
	t.Helper()
	raw, err := s.State()
	if err != nil {
		t.Fatal(err)
	}
	var st map[string][]map[string]any
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	st = map[string][]map[string]any{}
	for _, key := range []string{"kafka", "mongodb", "rabbitmq", "computenest", "redis"} {
		var list []map[string]any
		if err := json.Unmarshal(doc[key], &list); err != nil {
			t.Fatalf("/_sim/state %s: %v", key, err)
		}
		st[key] = list
	}
	out := map[string]map[string]any{}
	for key, list := range st {
		for _, inst := range list {
			id, _ := inst["id"].(string)
			switch key {
			case "kafka":
				inst["latestMinor"] = inst["minorLatest"]
			case "computenest":
				inst["serviceVersion"] = inst["version"]
			}
			out[id] = inst
		}
	}
	return out
}

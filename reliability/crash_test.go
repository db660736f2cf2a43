package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/executor"
)

// journalTail follows a run's journal.jsonl as the apply writes it, reading only what was
// appended since the last look.
type journalTail struct {
	path    string
	off     int64
	partial []byte

	begins   int
	intents  map[string]bool // steps with at least one intent, over the whole run
	open     map[string]bool // this segment's intents without a result yet
	running  map[string]bool // accepted calls whose step has not ended
	segment  struct{ intents, results int }
	lastType string
}

func newJournalTail(dir string) *journalTail {
	return &journalTail{path: filepath.Join(dir, executor.JournalFile), intents: map[string]bool{},
		open: map[string]bool{}, running: map[string]bool{}}
}

// poll reads the entries appended since the last call.
func (j *journalTail) poll() {
	f, err := os.Open(j.path)
	if err != nil {
		return
	}
	defer f.Close()
	if _, err := f.Seek(j.off, io.SeekStart); err != nil {
		return
	}
	data, _ := io.ReadAll(f)
	j.off += int64(len(data))
	data = append(j.partial, data...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		j.add(data[:i])
		data = data[i+1:]
	}
	j.partial = append([]byte(nil), data...)
}

func (j *journalTail) add(line []byte) {
	var e struct {
		Type   string          `json:"type"`
		StepID string          `json:"step_id"`
		Error  json.RawMessage `json:"error"`
		Step   *struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"step"`
	}
	if json.Unmarshal(line, &e) != nil {
		return
	}
	j.lastType = e.Type
	switch e.Type {
	case executor.EntryBegin:
		j.begins++
		j.open = map[string]bool{}
		j.segment.intents, j.segment.results = 0, 0
	case executor.EntryIntent:
		j.intents[e.StepID] = true
		j.open[e.StepID] = true
		j.segment.intents++
	case executor.EntryResult:
		delete(j.open, e.StepID)
		j.segment.results++
		if len(e.Error) == 0 || string(e.Error) == "null" {
			j.running[e.StepID] = true
		}
	case executor.EntryStep:
		if e.Step != nil && e.Step.Status != string(executor.StatusRunning) && e.Step.Status != string(executor.StatusPending) {
			delete(j.running, e.Step.ID)
		}
	}
}

// killMode says when, within one apply process, the SIGKILL lands.
type killMode int

const (
	killAnytime     killMode = iota // a random instant after the process started, journal begun or not
	killAtBegin                     // as soon as the segment's begin entry is written: reads, no call yet
	killAfterIntent                 // right after an intent entry: the call is in flight or not yet sent
	killAfterResult                 // shortly after a result entry: the accepted step is being polled
)

func (m killMode) String() string {
	return [...]string{"at a random instant", "at the segment's start", "right after an intent", "after a result, while polling"}[m]
}

// slowUpgrades makes every upgrade call take 15 ms of real time in the simulator, so kills
// land between an intent and its answer; a client killed during that delay never reaches
// the product.
const slowUpgrades = `rules:
  - {action: UpgradeInstanceVersion, fault: latency, latency: 15ms}
  - {action: UpgradeDBInstanceKernelVersion, fault: latency, latency: 15ms}
  - {action: UpdateInstance, fault: latency, latency: 15ms}
  - {action: UpgradeServiceInstance, fault: latency, latency: 15ms}
  - {action: UpgradeInstance, fault: latency, latency: 15ms}
`

// A 500-instance apply of all five kinds is killed with SIGKILL at 20 seeded points, each
// time resumed with `apply --resume DIR`, the next kill landing in that resumed run; a last
// resume runs to the end. Every instance ends upgraded with exactly one effective upgrade
// call per planned change (per the simulator's call log), the journal and run.json parse
// after every kill, and run.json accounts for every segment.
func TestKillNineAtTwentyPointsAndResumeUpgradesEveryInstanceOnce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("REL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("REL_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("kill points seeded with %d; rerun them with REL_SEED=%d go test ./reliability -run %s", seed, seed, t.Name())
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))

	f := each(100)
	s := startSim(t, simState(f), slowUpgrades, 200)
	dir := t.TempDir()
	env := cliEnv(s)
	planPath, p := planFleet(t, dir, env, fleetManifest(f, 48, "50ms", 400))
	if n := len(p.Steps); n != 600 {
		t.Fatalf("the plan has %d steps, want 600 (one per instance, two per Redis instance)", n)
	}
	out := filepath.Join(dir, "run")

	// Twenty kills: the modes in a seeded order, each of the intent- and result-bound ones at
	// a progress point (steps with an intent) spread over the first 75% of the run.
	const kills = 20
	modes := make([]killMode, 0, kills)
	for i := range kills {
		modes = append(modes, killMode(i%4))
	}
	rng.Shuffle(len(modes), func(i, j int) { modes[i], modes[j] = modes[j], modes[i] })
	points := make([]int, kills)
	for i := range points {
		points[i] = 1 + rng.IntN(len(p.Steps)*3/4)
	}
	sort.Ints(points)

	tail := newJournalTail(out)
	var seen struct{ beforeCall, inDoubt, polling int }
	// finishedEarly: a late segment completed the run before its kill point was reached (the
	// executor can finish the last quarter faster than the journal tail polls); the kills
	// left have nothing to interrupt.
	finishedEarly := false
kill:
	for i, mode := range modes {
		tail.poll()
		args := []string{"apply", planPath, "--resume", out}
		if tail.begins == 0 { // killed before the journal began: there is nothing to resume
			args = []string{"apply", planPath, "--out", out}
		}
		run := startCLI(t, dir, env, args...)
		cmd, stderr, exited := run.cmd, run.stderr, run.exited

		tail.poll()
		// The segment's counters reset at its begin entry.
		begins := tail.begins
		delay := time.Duration(rng.IntN(30)) * time.Millisecond
		if mode == killAnytime {
			delay = time.Duration(rng.IntN(800)) * time.Millisecond
		}
		started := time.Now()
		ready := func() bool {
			switch mode {
			case killAnytime:
				return time.Since(started) >= delay
			case killAtBegin:
				return tail.begins > begins
			case killAfterIntent:
				return tail.begins > begins && tail.segment.intents > 0 && len(tail.intents) >= points[i]
			default:
				return tail.begins > begins && tail.segment.results > 0 && len(tail.intents) >= points[i]
			}
		}
		deadline := time.After(30 * time.Second)
	wait:
		for {
			tail.poll()
			if ready() {
				break
			}
			select {
			case err := <-exited:
				if err == nil && i >= kills/2 {
					t.Logf("kill %2d %-30s the apply finished the run before this kill point (%d of %d steps); no kill left to make",
						i+1, mode, points[i], len(p.Steps))
					finishedEarly = true
					break kill
				}
				t.Fatalf("kill %d (%s, at %d of %d steps): the apply ended first (%v); the kill points must land inside the run\n%s",
					i+1, mode, points[i], len(p.Steps), err, lastLines(stderr.String(), 5))
			case <-deadline:
				t.Fatalf("kill %d (%s): not reached within 30 s (%d steps with an intent so far)\n%s", i+1, mode, len(tail.intents), lastLines(stderr.String(), 5))
			case <-time.After(500 * time.Microsecond):
				continue wait
			}
		}
		if mode == killAfterResult {
			time.Sleep(delay)
		}
		cmd.Process.Kill() // SIGKILL
		<-exited
		tail.poll()

		// What the kill interrupted, from the journal: nothing may be lost or unreadable.
		began := tail.begins > begins
		switch {
		case began && tail.segment.intents == 0:
			seen.beforeCall++
		case !began:
			seen.beforeCall++
		}
		if began && len(tail.open) > 0 {
			seen.inDoubt++
		}
		if began && tail.segment.results > 0 && len(tail.running) > 0 {
			seen.polling++ // this segment's accepted calls were being followed
		}
		if _, err := executor.ReadJournal(out); err != nil {
			t.Fatalf("after kill %d (%s): the journal does not parse: %v", i+1, mode, err)
		}
		if _, err := os.Stat(filepath.Join(out, executor.RecordFile)); err == nil {
			readRecord(t, out)
			checkReportKeepsTheJournal(t, dir, env, out, i+1)
		}
		if began {
			t.Logf("kill %2d %-30s steps with an intent %3d; this segment: intents %3d, open %2d, results %3d",
				i+1, mode, len(tail.intents), tail.segment.intents, len(tail.open), tail.segment.results)
		} else {
			t.Logf("kill %2d %-30s before the segment's journal began", i+1, mode)
		}
	}

	final := cli(t, dir, env, "apply", planPath, "--resume", out)
	if final.code != 0 {
		t.Fatalf("the final resume: %s", final)
	}
	rec := readRecord(t, out)
	checkAllSucceeded(t, p, rec)
	checkOneUpgradePerChange(t, p, s.Calls())
	checkNoRefusedUpgrades(t, s.Calls(), func(c sim.CallRecord) bool {
		// A client killed during the injected delay: the simulator never ran the action.
		return c.Fault == string(sim.FaultLatency) && c.Code == "InternalError"
	})

	// run.json keeps every segment: the first run, every resume, the killed ones marked.
	entries, err := executor.ReadJournal(out)
	if err != nil {
		t.Fatal(err)
	}
	begins := 0
	for _, e := range entries {
		if e.Type == executor.EntryBegin {
			begins++
		}
	}
	if len(rec.Segments) != begins || begins < kills/2 {
		t.Errorf("run.json lists %d segments, the journal %d begins (20 kills and a final resume)", len(rec.Segments), begins)
	}
	finished := 1 // the final resume; and the segment that finished early, if one did
	if finishedEarly {
		finished = 2
	}
	for k, seg := range rec.Segments {
		last := k >= len(rec.Segments)-finished
		if last && seg.Stop != "" || !last && !strings.HasPrefix(seg.Stop, "killed") {
			t.Errorf("segment %d (pid %d) stop %q; want the killed ones marked killed and the last one finished", k+1, seg.PID, seg.Stop)
		}
	}

	// The kills landed at the moments this test is about.
	t.Logf("kills before any call %d, between intent and result %d, while polling %d", seen.beforeCall, seen.inDoubt, seen.polling)
	if seen.beforeCall == 0 || seen.inDoubt == 0 || seen.polling == 0 {
		t.Errorf("the kills did not cover every moment: before any call %d, between intent and result %d, while polling %d (seed %d)",
			seen.beforeCall, seen.inDoubt, seen.polling, seed)
	}

	// The cloud agrees: planning again finds nothing to do.
	if r := cli(t, dir, env, "plan", "fleet.yaml", "--detailed-exitcode"); r.code != 0 {
		t.Errorf("planning again after the crashes: want exit 0 (no changes), got %s", firstLines(r, 20))
	}
}

// checkReportKeepsTheJournal fails unless `report` on a killed run's directory shows every
// call the journal holds an answer of, with its request id, and names the run unfinished:
// run.json, written every few seconds, lags the journal a killed segment leaves behind,
// and an auditor reading the report must not be told that calls already made were not.
func checkReportKeepsTheJournal(t *testing.T, dir string, env []string, out string, kill int) {
	t.Helper()
	entries, err := executor.ReadJournal(out)
	if err != nil {
		t.Fatal(err)
	}
	r := cli(t, dir, env, "report", out, "--format", "json")
	if r.code != 0 {
		t.Fatalf("after kill %d: report: %s", kill, firstLines(r, 10))
	}
	var rec executor.Record
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatalf("after kill %d: report --format json: %v", kill, err)
	}
	shown := map[string]bool{}
	for _, st := range rec.Steps {
		for _, id := range st.RequestIDs {
			shown[st.ID+" "+id] = true
		}
	}
	missing := 0
	for _, e := range entries {
		if e.Type == executor.EntryResult && e.RequestID != "" && !shown[e.StepID+" "+e.RequestID] {
			missing++
		}
	}
	if missing > 0 || rec.Outcome.Result != "" || rec.Outcome.Reason != executor.FoldedReason {
		t.Errorf("after kill %d: report shows the run %q (%s) and lacks %d request ids the journal holds", kill, rec.Outcome.Result, rec.Outcome.Reason, missing)
	}
}

// firstLines shortens a result for a failure message.
func firstLines(r result, n int) string {
	s := r.String()
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("... (%d bytes)", len(s)))
	}
	return strings.Join(lines, "\n")
}

// lastLines keeps the end of a long log.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

package executor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

func fleetOf(n int, prefix, version string) map[string]provider.Values {
	out := map[string]provider.Values{}
	for i := 1; i <= n; i++ {
		out[fmt.Sprintf("%s-%d", prefix, i)] = provider.Values{"version": version}
	}
	return out
}

func runApply(t *testing.T, ctx context.Context, plan *planner.Plan, reg provider.Registry, dir string, mod func(*Options)) (*Record, error) {
	t.Helper()
	opts := Options{Registry: reg, Out: dir, Seed: 1, LockDir: dir + ".locks"}
	if mod != nil {
		mod(&opts)
	}
	return Apply(ctx, plan, opts)
}

// A fleet with a target dependency and a canary applies in order, one call per step, within
// the caps, and polls in batches.
func TestApplyRunsTheFleetInOrderWithinTheCaps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		insts := fleetOf(6, "a", "1")
		for id, v := range fleetOf(3, "b", "1") {
			insts[id] = v
		}
		cloud := newFakeCloud(30*time.Second, insts)
		var steps []planner.Step
		for i := 1; i <= 6; i++ {
			wave, deps := 0, []string(nil)
			if i > 1 {
				wave = 1
			}
			steps = append(steps, versionStep("ta", fmt.Sprintf("a-%d", i), "1", "2", wave, deps...))
		}
		for i := 1; i <= 3; i++ {
			steps = append(steps, versionStep("tb", fmt.Sprintf("b-%d", i), "1", "2", 0))
		}
		plan := planOf(t, planner.Settings{}, []planner.Target{
			{Name: "ta", Kind: fakeKind, Region: "r1", Canary: 1, MaxConcurrent: 3},
			{Name: "tb", Kind: fakeKind, Region: "r1", DependsOn: []string{"ta"}},
		}, steps)
		var events []Event
		dir := t.TempDir()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) {
			o.OnEvent = func(e Event) { events = append(events, e) }
		})
		if err != nil {
			t.Fatal(err)
		}
		if rec.Outcome.ExitCode != ExitOK || rec.Counts[StatusSucceeded] != 9 {
			t.Fatalf("outcome %+v counts %v, want all 9 succeeded", rec.Outcome, rec.Counts)
		}
		for id, n := range cloud.upgrades() {
			if n != 1 {
				t.Errorf("%s got %d upgrade calls, want 1", id, n)
			}
		}
		if got := len(cloud.upgrades()); got != 9 {
			t.Errorf("%d instances upgraded, want 9", got)
		}
		// Order: the canary finished before wave 1 started; tb started after ta finished.
		canary := stepByID(t, rec, "ta/a-1")
		for _, s := range rec.Steps {
			if s.ID != canary.ID && s.StartedAt.Before(*canary.FinishedAt) {
				t.Errorf("%s started at %s, before the canary finished at %s", s.ID, s.StartedAt, canary.FinishedAt)
			}
			if s.Target == "tb" {
				for _, a := range rec.Steps {
					if a.Target == "ta" && s.StartedAt.Before(*a.FinishedAt) {
						t.Errorf("%s started before %s (a target it depends on) finished", s.ID, a.ID)
					}
				}
			}
		}
		// maxConcurrent 3 for ta: never more than 3 of its steps running at once.
		for _, s := range rec.Steps {
			n := 0
			for _, o := range rec.Steps {
				if o.Target == "ta" && !o.StartedAt.After(*s.StartedAt) && o.FinishedAt.After(*s.StartedAt) {
					n++
				}
			}
			if s.Target == "ta" && n > 3 {
				t.Errorf("%d steps of ta in flight when %s started, maxConcurrent is 3", n, s.ID)
			}
		}
		if m := maxPerSecond(cloud.callsOf("Upgrade")); m > 2 {
			t.Errorf("%d upgrade calls in one second, the cap is 2", m)
		}
		if m := maxPerSecond(cloud.callsOf("List")); m > 10 {
			t.Errorf("%d list calls in one second, the cap is 10", m)
		}
		// Batched polling: far fewer list calls than (steps × polls per step). A call whose
		// verdict aged past sendFreshness waiting for its token (this bucket sends 2/s) is
		// judged again right before it goes out, one look each.
		lists := len(cloud.callsOf("List"))
		if lists > 44 {
			t.Errorf("%d list calls for 9 steps of 30 s polled every 5 s: polling is not batched", lists)
		}
		for _, b := range rec.Buckets {
			if b.Action == fakeKind+"/Upgrade" && (b.Calls != 9 || !b.Mutating || b.Throttles != 0) {
				t.Errorf("upgrade bucket %+v, want 9 calls, mutating, no throttles", b)
			}
			if b.Action == fakeKind+"/List" && (b.Polls == 0 || b.Polls >= b.Calls) {
				t.Errorf("list bucket %+v: polls must be counted apart from the refresh", b)
			}
		}
		if s := stepByID(t, rec, "tb/b-1"); s.ClientToken != ClientToken(plan, "tb/b-1") || s.After["version"] != "2" || s.Before["version"] != "1" || s.RequestIDs == nil || s.OrderID == "" || s.OrderName != "deal-b-1" {
			t.Errorf("step record lacks token, before/after, request ids or order id: %+v", s)
		}
		if len(events) < 18 || events[len(events)-1].Progress.Done != 9 {
			t.Errorf("events: %d, last %+v; want a running and a final event per step", len(events), events[len(events)-1])
		}
		// The record on disk is the one returned.
		disk, err := ReadRecord(dir)
		if err != nil || disk.Outcome != rec.Outcome || len(disk.Steps) != 9 || disk.Counts[StatusSucceeded] != 9 {
			t.Errorf("run.json on disk: %+v, %v; want the returned record", disk, err)
		}
	})
}

// Steps whose instance already shows `to` are noops, those whose `from` changed are drifted,
// and steps depending on a drifted one are skipped: nothing is called for any of them.
func TestRefreshMakesNoopsAndDriftedStepsWithoutCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, map[string]provider.Values{
			"a-1": {"version": "2"}, "a-2": {"version": "7"}, "b-1": {"version": "1"},
		})
		plan := planOf(t, planner.Settings{}, []planner.Target{
			{Name: "ta", Kind: fakeKind, Region: "r1"}, {Name: "tb", Kind: fakeKind, Region: "r1", DependsOn: []string{"ta"}},
		}, []planner.Step{
			versionStep("ta", "a-1", "1", "2", 0), versionStep("ta", "a-2", "1", "2", 0), versionStep("tb", "b-1", "1", "2", 0),
		})
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]Status{"ta/a-1": StatusNoop, "ta/a-2": StatusDrifted, "tb/b-1": StatusSkipped}
		for id, st := range want {
			if got := statuses(rec)[id]; got != st {
				t.Errorf("%s is %s, want %s", id, got, st)
			}
		}
		if r := stepByID(t, rec, "tb/b-1").Reason; !strings.Contains(r, "ta/a-2") || !strings.Contains(r, "drifted") {
			t.Errorf("skip reason %q does not name the drifted dependency", r)
		}
		if r := stepByID(t, rec, "ta/a-2").Reason; !strings.Contains(r, "7") {
			t.Errorf("drift reason %q does not say what changed", r)
		}
		if n := len(cloud.callsOf("Upgrade")); n != 0 {
			t.Errorf("%d upgrade calls, want none", n)
		}
		if rec.Outcome.ExitCode != ExitFailed {
			t.Errorf("exit %d, want 2 (a drifted step needs a new plan)", rec.Outcome.ExitCode)
		}
	})
}

// Chained steps of one instance: the second is judged from live state after the first
// finished, and its call comes after the first's completion.
func TestChainedStepsRunOneAfterAnother(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(20*time.Second, map[string]provider.Values{"r-1": {"mem": int64(4), "shards": int64(2)}})
		s1 := planner.Step{ID: "t/r-1#1", Target: "t", Instance: "r-1", Params: map[string]any{"mem": int64(8)},
			From: provider.Values{"mem": int64(4)}, To: provider.Values{"mem": int64(8)}}
		s2 := planner.Step{ID: "t/r-1#2", Target: "t", Instance: "r-1", Params: map[string]any{"shards": int64(4)},
			From: provider.Values{"shards": int64(2)}, To: provider.Values{"shards": int64(4)}, DependsOn: []string{"t/r-1#1"}}
		plan := planOf(t, planner.Settings{}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}}, []planner.Step{s1, s2})
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Counts[StatusSucceeded] != 2 {
			t.Fatalf("counts %v, want both succeeded", rec.Counts)
		}
		ups := cloud.callsOf("Upgrade")
		if len(ups) != 2 || ups[1].at.Sub(ups[0].at) < 20*time.Second {
			t.Errorf("upgrade calls %+v: the second must follow the first's completion (20 s)", ups)
		}
		if b := stepByID(t, rec, "t/r-1#2").Before; fmt.Sprint(b["mem"]) != "8" {
			t.Errorf("second step's before %v: must be observed after the first finished", b)
		}
	})
}

// A busy instance (Mongo not Running) is waited for, not called early; a never-ready one
// fails at stepTimeout without a call.
func TestBusyInstanceIsWaitedForUntilStepTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, fleetOf(2, "m", "1"))
		start := time.Now()
		cloud.busy("m-1", start.Add(2*time.Minute))
		cloud.busy("m-2", start.Add(48*time.Hour))
		plan := planOf(t, planner.Settings{StepTimeout: planner.Duration(10 * time.Minute)}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}},
			[]planner.Step{versionStep("t", "m-1", "1", "2", 0), versionStep("t", "m-2", "1", "2", 0)})
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		ups := cloud.callsOf("Upgrade")
		if len(ups) != 1 || ups[0].instance != "m-1" || ups[0].at.Before(start.Add(2*time.Minute)) {
			t.Fatalf("upgrade calls %+v: want one, for m-1, once it was ready", ups)
		}
		if s := stepByID(t, rec, "t/m-2"); s.Status != StatusFailed || s.Error == nil || s.Error.Code != "StepTimeout" || s.Attempts != 0 {
			t.Errorf("m-2: %+v, want failed StepTimeout without a call", s)
		}
		if rec.Outcome.ExitCode != ExitFailed {
			t.Errorf("exit %d, want 2", rec.Outcome.ExitCode)
		}
	})
}

func TestFaults(t *testing.T) {
	cases := []struct {
		name       string
		fault      func(c provider.Call, n int) (error, bool)
		fail       string // instance whose upgrade ends failed
		want       map[string]Status
		upgrades   int // accepted upgrade calls on a-1
		attempts   int // attempts recorded on ta/a-1
		reasonPart string
	}{
		{
			name: "a 5xx on the first call is retried after reading the instance and succeeds",
			fault: func(c provider.Call, n int) (error, bool) {
				if c.Instance == "a-1" && n == 1 {
					return &provider.Error{Class: provider.ClassRetryable, Code: "InternalError", HTTPStatus: 500}, false
				}
				return nil, true
			},
			want:     map[string]Status{"ta/a-1": StatusSucceeded, "ta/a-2": StatusSucceeded, "tb/b-1": StatusSucceeded},
			upgrades: 1, attempts: 2,
		},
		{
			name: "a call applied then answered by a dropped connection is followed, not sent again",
			fault: func(c provider.Call, n int) (error, bool) {
				if c.Instance == "a-1" {
					return &provider.Error{Class: provider.ClassUnknown, Message: "connection reset"}, true
				}
				return nil, true
			},
			want:     map[string]Status{"ta/a-1": StatusSucceeded, "ta/a-2": StatusSucceeded, "tb/b-1": StatusSucceeded},
			upgrades: 1, attempts: 1,
		},
		{
			name: "a permanent error fails only its step and skips the targets depending on it",
			fault: func(c provider.Call, n int) (error, bool) {
				if c.Instance == "a-1" {
					return &provider.Error{Class: provider.ClassPermanent, Code: "InvalidParameter", RequestID: "rid-1"}, false
				}
				return nil, true
			},
			want:     map[string]Status{"ta/a-1": StatusFailed, "ta/a-2": StatusSucceeded, "tb/b-1": StatusSkipped},
			upgrades: 0, attempts: 1, reasonPart: "ta/a-1",
		},
		{
			name:     "an upgrade the product reports failed fails its step and skips dependents",
			fail:     "a-1",
			want:     map[string]Status{"ta/a-1": StatusFailed, "ta/a-2": StatusSucceeded, "tb/b-1": StatusSkipped},
			upgrades: 1, attempts: 1, reasonPart: "ta/a-1",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cloud := newFakeCloud(10*time.Second, map[string]provider.Values{"a-1": {"version": "1"}, "a-2": {"version": "1"}, "b-1": {"version": "1"}})
				cloud.fault = tc.fault
				if tc.fail != "" {
					cloud.failUpgrade[tc.fail] = true
				}
				plan := planOf(t, planner.Settings{}, []planner.Target{
					{Name: "ta", Kind: fakeKind, Region: "r1"}, {Name: "tb", Kind: fakeKind, Region: "r1", DependsOn: []string{"ta"}},
				}, []planner.Step{versionStep("ta", "a-1", "1", "2", 0), versionStep("ta", "a-2", "1", "2", 0), versionStep("tb", "b-1", "1", "2", 0)})
				rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
				if err != nil {
					t.Fatal(err)
				}
				for id, st := range tc.want {
					if got := statuses(rec)[id]; got != st {
						t.Errorf("%s is %s, want %s", id, got, st)
					}
				}
				if got := cloud.upgrades()["a-1"]; got != tc.upgrades {
					t.Errorf("a-1 got %d accepted upgrade calls, want %d", got, tc.upgrades)
				}
				a1 := stepByID(t, rec, "ta/a-1")
				if a1.Attempts != tc.attempts {
					t.Errorf("ta/a-1 attempts %d, want %d", a1.Attempts, tc.attempts)
				}
				if tc.reasonPart != "" {
					if r := stepByID(t, rec, "tb/b-1").Reason; !strings.Contains(r, tc.reasonPart) {
						t.Errorf("skip reason %q does not name %s", r, tc.reasonPart)
					}
					if a1.Error == nil {
						t.Errorf("failed step has no error")
					}
				}
				if tc.name[0:2] == "a " && strings.Contains(tc.name, "permanent") && (a1.Error.Code != "InvalidParameter" || a1.Error.RequestID != "rid-1") {
					t.Errorf("error %+v lacks the cloud's code and request id", a1.Error)
				}
			})
		})
	}
}

func TestDryRunSendsNoMutatingCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, fleetOf(2, "a", "1"))
		plan := planOf(t, planner.Settings{}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}},
			[]planner.Step{versionStep("t", "a-1", "1", "2", 0), versionStep("t", "a-2", "1", "2", 0)})
		dir := t.TempDir()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) { o.DryRun = true })
		if err != nil {
			t.Fatal(err)
		}
		if rec.Outcome.ExitCode != ExitOK || !rec.DryRun || rec.Counts[StatusSucceeded] != 2 {
			t.Fatalf("dry run: %+v %v", rec.Outcome, rec.Counts)
		}
		if n := len(cloud.upgrades()); n != 0 {
			t.Errorf("a dry run upgraded %d instances", n)
		}
		for _, c := range cloud.callsOf("Upgrade") {
			if !c.dryRun {
				t.Errorf("a dry run sent a real call: %+v", c)
			}
		}
		entries, _ := ReadJournal(dir)
		for _, e := range entries {
			if e.Type == EntryIntent {
				t.Errorf("a dry run journaled an intent: %+v", e)
			}
		}
	})
}

func TestRefusals(t *testing.T) {
	cloud := newFakeCloud(time.Second, fleetOf(1, "a", "1"))
	good := planOf(t, planner.Settings{}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}}, []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
	tampered := *good
	tampered.Steps = []planner.Step{versionStep("t", "a-1", "1", "3", 0)}
	future := *good
	future.FormatVersion = 2
	cases := []struct {
		name   string
		plan   *planner.Plan
		expect string
	}{
		{"a plan whose steps were edited after planning is refused", &tampered, ""},
		{"a plan of an unknown format version is refused", &future, ""},
		{"a plan whose digest differs from --expect-digest is refused", good, strings.Repeat("0", 64)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := runApply(t, t.Context(), tc.plan, cloud.registry(), t.TempDir(), func(o *Options) { o.ExpectDigest = tc.expect })
			if ExitCode(rec, err) != ExitRefused || rec.Outcome.Result != "refused" {
				t.Errorf("exit %d (%v), want 4 refused", ExitCode(rec, err), err)
			}
		})
	}
	if n := len(cloud.calls); n != 0 {
		t.Errorf("a refused plan made %d requests", n)
	}
}

func TestClientTokenDiffersForPlansMadeAtDifferentTimes(t *testing.T) {
	a := planOf(t, planner.Settings{}, nil, []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
	b := *a
	b.CreatedAt = a.CreatedAt.Add(time.Second)
	d, err := planner.ComputeDigest(&b)
	if err != nil {
		t.Fatal(err)
	}
	b.Digest = d
	ta, tb := ClientToken(a, "t/a-1"), ClientToken(&b, "t/a-1")
	if ta == tb || len(ta) > 64 || ta != ClientToken(a, "t/a-1") || !strings.HasPrefix(ta, "upgp-") {
		t.Errorf("tokens %q and %q: want stable per plan, distinct across creation times, ≤ 64 chars", ta, tb)
	}
}

func TestBudgetOf(t *testing.T) {
	cases := []struct {
		in    string
		steps int
		want  int
	}{{"", 10, -1}, {"3", 10, 3}, {"5%", 200, 10}, {"5%", 10, 0}, {"0", 5, 0}}
	for _, tc := range cases {
		got, err := BudgetOf(tc.in, tc.steps)
		if err != nil || got != tc.want {
			t.Errorf("BudgetOf(%q, %d) = %d, %v; want %d", tc.in, tc.steps, got, err, tc.want)
		}
	}
}

func TestFinishRunsWithTheFinalRecordWhileThePlanIsStillLocked(t *testing.T) {
	dir := t.TempDir()
	locks := filepath.Join(dir, "locks")
	cloud := newFakeCloud(time.Second, fleetOf(1, "a", "1"))
	plan := planOf(t, planner.Settings{}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}}, []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
	digestLock := filepath.Join(locks, "plan-"+plan.Digest+".lock")
	var finished *Record
	var lockErr error
	rec, err := runApply(t, t.Context(), plan, cloud.registry(), filepath.Join(dir, "run"), func(o *Options) {
		o.LockDir = locks
		o.Finish = func(r *Record) error {
			finished = r
			// A resume starting now (reports still being written) must be locked out.
			l, err := acquireLock(digestLock, "the plan")
			if err == nil {
				l.release()
			}
			lockErr = err
			return nil
		}
	})
	if err != nil || finished != rec || finished.Outcome.Result != "succeeded" {
		t.Fatalf("Finish saw %+v (err %v), want the final succeeded record", finished, err)
	}
	var locked *LockedError
	if !errors.As(lockErr, &locked) {
		t.Errorf("taking the plan's lock inside Finish gave %v, want it held by the apply", lockErr)
	}
	if l, err := acquireLock(digestLock, "the plan"); err != nil {
		t.Errorf("the lock is still held after Apply returned: %v", err)
	} else {
		l.release()
	}
}

func TestExitCodeMapsEveryAnswerOfApply(t *testing.T) {
	ran := func(code int) *Record { return &Record{Outcome: Outcome{Result: "x", ExitCode: code}} }
	tests := []struct {
		name string
		rec  *Record
		err  error
		want int
	}{
		{"a finished run exits with its own code", ran(ExitStopped), nil, ExitStopped},
		{"a refused plan exits 4", ran(ExitRefused), fmt.Errorf("%w: digest", ErrRefused), ExitRefused},
		{"a digest mismatch read from the file exits 4", nil, planner.ErrDigestMismatch, ExitRefused},
		{"a held lock exits 5", nil, &LockedError{Path: "p.lock"}, ExitLocked},
		{"nothing attempted exits 1", nil, fmt.Errorf("%w: no journal", ErrNothingAttempted), ExitInvalid},
		{"a run whose record could not be written keeps its failure code", ran(ExitStopped), fmt.Errorf("%w: disk full", ErrRecordNotWritten), ExitStopped},
		{"a successful run whose record could not be written is not reported as success or as nothing attempted", ran(ExitOK), fmt.Errorf("%w: disk full", ErrRecordNotWritten), ExitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.rec, tt.err); got != tt.want {
				t.Errorf("ExitCode = %d, want %d", got, tt.want)
			}
		})
	}
}

package executor

// The reproductions of issue 12 ("exactly one upgrade per change against clouds that are
// eventually consistent"), one test each, against the fake product with a visibility lag.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

func oneTarget() []planner.Target { return []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}} }

// A call whose answer is lost (or that fails with a 5xx after the cloud accepted it) is not
// sent again while the cloud's lists do not show the change yet.
func TestALostAnswerIsNotResentWhileTheChangeIsNotVisibleYet(t *testing.T) {
	for _, class := range []provider.Class{provider.ClassUnknown, provider.ClassRetryable} {
		t.Run(string(class), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cloud := newFakeCloud(30*time.Second, fleetOf(1, "a", "1"))
				cloud.lag = 2 * time.Second
				cloud.fault = func(c provider.Call, n int) (error, bool) {
					if n == 1 {
						return &provider.Error{Class: class, Message: "connection reset after the request was sent"}, true
					}
					return nil, true
				}
				plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
				rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
				if err != nil {
					t.Fatal(err)
				}
				if n := cloud.sends("a-1"); n != 1 {
					t.Errorf("a-1 received %d upgrade calls for one change", n)
				}
				s := stepByID(t, rec, "t/a-1")
				if s.Status != StatusSucceeded || !strings.Contains(s.Reason, "answer was lost") {
					t.Errorf("step %s %q, want succeeded with a note that the answer was lost", s.Status, s.Reason)
				}
			})
		})
	}
}

// On resume, a step with an intent and no result whose change the cloud accepted but does
// not show yet is not sent again.
func TestResumeDoesNotResendAnIntentWhoseChangeIsNotVisibleYet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud, rec := resumeAnAcceptedCallNotVisibleYet(t, time.Time{})
		if n := cloud.sends("a-1"); n != 0 {
			t.Errorf("the resume sent %d upgrade calls for a change the cloud had accepted", n)
		}
		if s := stepByID(t, rec, "t/a-1"); s.Status != StatusSucceeded {
			t.Errorf("step %s %q %+v, want succeeded", s.Status, s.Reason, s.Error)
		}
	})
}

// resumeAnAcceptedCallNotVisibleYet resumes a killed segment whose intent for t/a-1 was
// journaled at intentAt (zero: now, this clock's) and whose call the cloud accepted just
// now, showing it 5 s later; it returns the cloud and the resume's record.
func resumeAnAcceptedCallNotVisibleYet(t *testing.T, intentAt time.Time) (*fakeCloud, *Record) {
	t.Helper()
	cloud := newFakeCloud(30*time.Second, fleetOf(1, "a", "1"))
	plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
	dir := t.TempDir()
	j, err := openJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	j.write(Entry{Type: EntryBegin, Time: intentAt, Digest: plan.Digest, PID: 1})
	j.write(Entry{Type: EntryIntent, Time: intentAt, StepID: "t/a-1", Attempt: 1, ClientToken: ClientToken(plan, "t/a-1")})
	j.close()
	now := time.Now()
	cloud.mu.Lock()
	in := cloud.insts["a-1"]
	in.pendingTo, in.busyUntil, in.visibleAt = provider.Values{"version": "2"}, now.Add(30*time.Second), now.Add(5*time.Second)
	cloud.mu.Unlock()
	rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) { o.Resume = true })
	if err != nil {
		t.Fatal(err)
	}
	return cloud, rec
}

// A verdict taken at refresh is not reused at send time: another actor upgraded the
// instance while the step waited for its slot, so nothing is sent.
func TestAStepIsJudgedAgainRightBeforeItsCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(30*time.Second, fleetOf(3, "a", "1"))
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{
			versionStep("t", "a-1", "1", "2", 0), versionStep("t", "a-2", "1", "2", 0, "t/a-1"), versionStep("t", "a-3", "1", "2", 0, "t/a-1")})
		time.AfterFunc(10*time.Second, func() {
			cloud.set("a-2", provider.Values{"version": "2"})
			cloud.set("a-3", provider.Values{"version": "7"})
		})
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]Status{"t/a-2": StatusNoop, "t/a-3": StatusDrifted} {
			inst := strings.TrimPrefix(id, "t/")
			if n := cloud.sends(inst); n != 0 {
				t.Errorf("%s received %d calls although another actor changed it first", inst, n)
			}
			if s := stepByID(t, rec, id); s.Status != want {
				t.Errorf("%s is %s (%s), want %s", id, s.Status, s.Reason, want)
			}
		}
	})
}

// A verdict older than the look-freshness bound when the rate-limit token comes is taken
// again right before the call: the bucket sends one call every 10 s, another actor changes
// both instances at 5 s, while the second call waits for its token on a verdict taken at
// 0 s, more than DefaultLookFreshness before, and that call is not sent.
func TestAVerdictOlderThanTheBoundIsTakenAgainAtTheToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(time.Second, fleetOf(2, "a", "1"))
		settings := planner.Settings{QPS: map[string]float64{fakeKind + "/Upgrade": 0.1}}
		plan := planOf(t, settings, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0), versionStep("t", "a-2", "1", "2", 0)})
		time.AfterFunc(5*time.Second, func() {
			cloud.set("a-1", provider.Values{"version": "7"})
			cloud.set("a-2", provider.Values{"version": "7"})
		})
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		calls := cloud.callsOf("Upgrade")
		if len(calls) != 1 || calls[0].at.Sub(time.Unix(946684800, 0)) > time.Second {
			t.Fatalf("calls %+v; want only the first, at once", calls)
		}
		second := "t/a-1"
		if calls[0].instance == "a-1" {
			second = "t/a-2"
		}
		if s := stepByID(t, rec, second); s.Status != StatusDrifted {
			t.Errorf("%s is %s (%s), want drifted: its instance changed while its call waited for its token", second, s.Status, s.Reason)
		}
	})
}

// Copies of one plan file, and two plans into one run directory, never apply at once; no
// lock file is written next to the plan (it may sit on a read-only volume).
func TestLocksArePerPlanDigestAndRunDirectory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(time.Minute, fleetOf(2, "a", "1"))
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
		other := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-2", "1", "2", 0)})
		base := t.TempDir()
		for _, d := range []string{"ro", "copy"} {
			os.MkdirAll(filepath.Join(base, d), 0o755)
			os.WriteFile(filepath.Join(base, d, "plan.json"), []byte("{}"), 0o644)
		}
		apply := func(p *planner.Plan, planDir, out string) (*Record, error) {
			return runApply(t, t.Context(), p, cloud.registry(), filepath.Join(base, out), func(o *Options) {
				o.PlanPath = filepath.Join(base, planDir, "plan.json")
				o.LockDir = filepath.Join(base, "locks")
			})
		}
		done := make(chan error, 1)
		go func() { _, err := apply(plan, "ro", "run"); done <- err }()
		time.Sleep(5 * time.Second)
		for _, tc := range []struct {
			name string
			p    *planner.Plan
			out  string
		}{{"a copy of the plan into another run directory", plan, "run-copy"}, {"another plan into the same run directory", other, "run"}} {
			rec, err := apply(tc.p, "copy", tc.out)
			var locked *LockedError
			if ExitCode(rec, err) != ExitLocked || !errors.As(err, &locked) {
				t.Errorf("%s: exit %d (%v), want 5: locked", tc.name, ExitCode(rec, err), err)
			} else if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(msg, "since") {
				t.Errorf("%s: %q does not name the holder's pid and start time", tc.name, msg)
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := cloud.sends("a-1"); n != 1 {
			t.Errorf("a-1 received %d calls", n)
		}
		if entries, _ := os.ReadDir(filepath.Join(base, "ro")); len(entries) != 1 {
			t.Errorf("the plan's directory holds %d files after apply, want only the plan", len(entries))
		}
	})
}

// created_at is in the digest: a re-plan of the same content is another plan, and a resume
// with it is refused (its ClientTokens would differ).
func TestResumeAcceptsOnlyThePlanFileTheRunBegan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, fleetOf(2, "a", "1"))
		steps := func() []planner.Step {
			return []planner.Step{versionStep("t", "a-1", "1", "2", 0), versionStep("t", "a-2", "1", "2", 0)}
		}
		plan := planOf(t, planner.Settings{}, oneTarget(), steps())
		dir := t.TempDir()
		j, _ := openJournal(dir)
		j.write(Entry{Type: EntryBegin, Digest: plan.Digest, PID: 1}) // the first segment was killed
		j.close()
		replan := *plan
		replan.CreatedAt = plan.CreatedAt.Add(time.Hour)
		d, _ := planner.ComputeDigest(&replan)
		replan.Digest = d
		rec, err := runApply(t, t.Context(), &replan, cloud.registry(), dir, func(o *Options) { o.Resume = true })
		if ExitCode(rec, err) != ExitRefused {
			t.Errorf("resume with a re-made plan of the same content: exit %d (%v), want 4", ExitCode(rec, err), err)
		}
		if ClientToken(&replan, "t/a-2") == ClientToken(plan, "t/a-2") {
			t.Error("a re-made plan sends the same ClientToken as the reviewed one")
		}
	})
}

// A change that shows nothing new (Kafka's latestMinor: from == to) is done only after the
// instance was seen restarting, not on the first poll while the cloud still shows it idle.
func TestAnInPlaceRestartIsDoneOnlyAfterItWasSeenBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(30*time.Second, fleetOf(2, "k", "2"))
		cloud.lag = 2 * time.Second
		minor := func(inst string, wave int, deps ...string) planner.Step {
			return planner.Step{ID: "t/" + inst, Target: "t", Instance: inst, Params: map[string]any{"version": "2"},
				From: provider.Values{"version": "2"}, To: provider.Values{"version": "2", "latestMinor": true}, Wave: wave, DependsOn: deps}
		}
		plan := planOf(t, planner.Settings{}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1", Canary: 1}},
			[]planner.Step{minor("k-1", 0), minor("k-2", 1, "t/k-1")})
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		ups := cloud.callsOf("Upgrade")
		if len(ups) != 2 {
			t.Fatalf("%d calls, want 2", len(ups))
		}
		canary := stepByID(t, rec, "t/k-1")
		if canary.Status != StatusSucceeded || canary.FinishedAt.Sub(ups[0].at) < 30*time.Second {
			t.Errorf("canary %s after %s; the restart takes 30 s", canary.Status, canary.FinishedAt.Sub(ups[0].at))
		}
		if ups[1].at.Sub(ups[0].at) < 30*time.Second {
			t.Errorf("wave 1 called %s after the canary, while the canary was still restarting", ups[1].at.Sub(ups[0].at))
		}
	})
}

// A resume long after an accepted call judges the instance first: seen done, it succeeded.
func TestResumeLaterThanStepTimeoutLooksBeforeFailing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(time.Minute, fleetOf(1, "a", "2"))
		plan := planOf(t, planner.Settings{StepTimeout: planner.Duration(time.Hour)}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
		dir := t.TempDir()
		j, _ := openJournal(dir)
		then := time.Now().Add(-3 * time.Hour).UTC()
		j.write(Entry{Type: EntryBegin, Time: then, Digest: plan.Digest, PID: 1})
		j.write(Entry{Type: EntryIntent, Time: then, StepID: "t/a-1", Attempt: 1})
		j.write(Entry{Type: EntryResult, Time: then, StepID: "t/a-1", Attempt: 1, RequestID: "req-1"})
		j.close()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) { o.Resume = true })
		if err != nil {
			t.Fatal(err)
		}
		if s := stepByID(t, rec, "t/a-1"); s.Status != StatusSucceeded || rec.Outcome.ExitCode != ExitOK {
			t.Errorf("step %s %+v, exit %d; want succeeded: the instance shows the change", s.Status, s.Error, rec.Outcome.ExitCode)
		}
	})
}

// A step whose instance is busy gives its slot to a ready step while it waits.
func TestABusyInstanceDoesNotHoldASlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		insts := fleetOf(2, "m", "1")
		insts["y-1"] = provider.Values{"version": "1"}
		cloud := newFakeCloud(10*time.Second, insts)
		start := time.Now()
		cloud.busy("m-1", start.Add(10*time.Minute))
		// m-1 alone can take the target's one slot at the start; m-2 is ready once y-1 is done.
		plan := planOf(t, planner.Settings{}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1", MaxConcurrent: 1}, {Name: "y", Kind: fakeKind, Region: "r1"}},
			[]planner.Step{versionStep("t", "m-1", "1", "2", 0), versionStep("t", "m-2", "1", "2", 0, "y/y-1"), versionStep("y", "y-1", "1", "2", 0)})
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cloud.callsOf("Upgrade") {
			if c.instance == "m-2" && c.at.Sub(start) > time.Minute {
				t.Errorf("m-2 was called %s after start, behind a busy m-1 holding the target's slot", c.at.Sub(start))
			}
		}
		if rec.Counts[StatusSucceeded] != 3 {
			t.Errorf("%s, want all succeeded", statusLine(rec))
		}
	})
}

// chain is a redis-like instance changed in two chained steps (memory, then shards).
func chain() []planner.Step {
	return []planner.Step{
		{ID: "t/r-1#1", Target: "t", Instance: "r-1", Params: map[string]any{"mem": int64(8), "shards": int64(2)},
			From: provider.Values{"mem": int64(4), "shards": int64(2)}, To: provider.Values{"mem": int64(8), "shards": int64(2)}},
		{ID: "t/r-1#2", Target: "t", Instance: "r-1", Params: map[string]any{"mem": int64(8), "shards": int64(4)},
			From: provider.Values{"mem": int64(8), "shards": int64(2)}, To: provider.Values{"mem": int64(8), "shards": int64(4)}, DependsOn: []string{"t/r-1#1"}},
	}
}

func TestDryRunJudgesAChainedStepAsIfItsPredecessorWasApplied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, map[string]provider.Values{"r-1": {"mem": int64(4), "shards": int64(2)}})
		plan := planOf(t, planner.Settings{}, oneTarget(), chain())
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), func(o *Options) { o.DryRun = true })
		if err != nil {
			t.Fatal(err)
		}
		if rec.Outcome.ExitCode != ExitOK || rec.Counts[StatusSucceeded] != 2 {
			t.Errorf("dry run of a chain: exit %d, %s", rec.Outcome.ExitCode, statusLine(rec))
		}
	})
}

func TestReapplyingASucceededChainIsNoopAsAWhole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, map[string]provider.Values{"r-1": {"mem": int64(8), "shards": int64(4)}})
		plan := planOf(t, planner.Settings{}, oneTarget(), chain())
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Outcome.ExitCode != ExitOK || rec.Counts[StatusNoop] != 2 || len(cloud.callsOf("Upgrade")) != 0 {
			t.Errorf("re-apply of a done chain: exit %d, %s", rec.Outcome.ExitCode, statusLine(rec))
		}
	})
}

func statusLine(rec *Record) string {
	var b strings.Builder
	for _, s := range rec.Steps {
		fmt.Fprintf(&b, "%s %s %q; ", s.ID, s.Status, s.Reason)
	}
	return b.String()
}

// After an answer lost in flight, a kill and a resume, the record says the change was this
// run's (succeeded, answer lost), not noop.
func TestARecordNeverCallsAChangeOfThisRunANoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(time.Minute, fleetOf(1, "a", "2"))
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
		dir := t.TempDir()
		j, _ := openJournal(dir)
		j.write(Entry{Type: EntryBegin, Digest: plan.Digest, PID: 1})
		j.write(Entry{Type: EntryIntent, StepID: "t/a-1", Attempt: 1})
		j.write(Entry{Type: EntryResult, StepID: "t/a-1", Attempt: 1, Class: provider.ClassUnknown,
			Error: &StepError{Class: provider.ClassUnknown, Message: "read: connection reset"}})
		j.close()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) { o.Resume = true })
		if err != nil {
			t.Fatal(err)
		}
		if s := stepByID(t, rec, "t/a-1"); s.Status != StatusSucceeded || !strings.Contains(s.Reason, "answer was lost") {
			t.Errorf("step %s %q, want succeeded with a note that the answer was lost", s.Status, s.Reason)
		}
	})
}

// Stops end the wait for a rate-limit token: no call starts after a signal or the cutoff.
func TestNoCallStartsAfterTheStopWhileWaitingForAToken(t *testing.T) {
	for _, stop := range []string{"signal", "window cutoff"} {
		t.Run(stop, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cloud := newFakeCloud(10*time.Second, fleetOf(2, "a", "1"))
				now := time.Now()
				settings := planner.Settings{QPS: map[string]float64{fakeKind + "/Upgrade": 0.01}}
				ctx := t.Context()
				if stop == "signal" {
					c, cancel := context.WithCancel(ctx)
					time.AfterFunc(10*time.Second, cancel)
					ctx = c
				} else {
					settings.Window = &planner.Window{Start: now.Add(-time.Hour), End: now.Add(20 * time.Second), Cutoff: planner.Duration(10 * time.Second)}
				}
				plan := planOf(t, settings, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0), versionStep("t", "a-2", "1", "2", 0)})
				rec, err := runApply(t, ctx, plan, cloud.registry(), t.TempDir(), nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range cloud.callsOf("Upgrade") {
					if c.at.Sub(now) >= 10*time.Second {
						t.Errorf("a call for %s went out %s after start, after the stop at 10 s", c.instance, c.at.Sub(now))
					}
				}
				if rec.Outcome.ExitCode != ExitStopped || rec.Counts[StatusNotStarted] != 1 {
					t.Errorf("exit %d, %s; want 3 with one step not started", rec.Outcome.ExitCode, statusLine(rec))
				}
			})
		})
	}
}

// A full disk stops the run (exit 3, resumable): no call without its intent on disk.
func TestAJournalThatCannotBeWrittenStopsTheRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, fleetOf(3, "a", "1"))
		plan := planOf(t, planner.Settings{Parallelism: 1}, oneTarget(), []planner.Step{
			versionStep("t", "a-1", "1", "2", 0), versionStep("t", "a-2", "1", "2", 0), versionStep("t", "a-3", "1", "2", 0)})
		dir := t.TempDir()
		var mu sync.Mutex // the journal is written from the steps' goroutines and the record's
		full, intents := false, 0
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) {
			o.journalFault = func(e Entry) error {
				mu.Lock()
				defer mu.Unlock()
				if e.Type == EntryIntent {
					intents++
					full = full || intents == 2
				}
				if full {
					return syscall.ENOSPC
				}
				return nil
			}
		})
		if err != nil && !errors.Is(err, ErrRecordNotWritten) {
			t.Fatal(err)
		}
		if code := ExitCode(rec, err); code != ExitStopped {
			t.Errorf("exit %d, want 3 (stopped, resumable)", code)
		}
		if n := len(cloud.callsOf("Upgrade")); n != 1 {
			t.Errorf("%d calls sent, want only the one whose intent was on disk", n)
		}
		if rec.Counts[StatusNotStarted] != 2 {
			t.Errorf("%s; want the two steps without an intent not started", statusLine(rec))
		}
		rec, err = runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) { o.Resume = true })
		if err != nil || rec.Counts[StatusSucceeded] != 3 {
			t.Fatalf("resume once the disk has room: %v, %s", err, statusLine(rec))
		}
		for _, id := range []string{"a-1", "a-2", "a-3"} {
			if n := cloud.sends(id); n != 1 {
				t.Errorf("%s received %d calls", id, n)
			}
		}
	})
}

// An apply that exits 1 before any call leaves nothing that refuses the same command.
func TestNothingAttemptedLeavesNoRunBehind(t *testing.T) {
	cloud := newFakeCloud(time.Second, fleetOf(1, "a", "1"))
	step := versionStep("t", "a-1", "1", "2", 0)
	step.Account = "missing"
	plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{step})
	dir := filepath.Join(t.TempDir(), "run")
	for i := range 2 {
		_, err := runApply(t, t.Context(), plan, cloud.registry(), dir, nil)
		if !errors.Is(err, ErrNothingAttempted) || strings.Contains(err.Error(), "already holds a run") {
			t.Fatalf("apply %d: %v, want nothing attempted for the missing account", i+1, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, JournalFile)); err == nil {
		t.Error("a journal was left behind")
	}
}

// After the first signal, steps in flight whose polls keep failing are followed for
// --stop-timeout, then recorded in doubt (exit 3); the record names how many.
func TestAfterTheStopFailingPollsAreFollowedOnlyForTheStopTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(time.Hour, fleetOf(2, "a", "1"))
		start := time.Now()
		time.AfterFunc(10*time.Second, func() {
			cloud.mu.Lock()
			cloud.listFault = func() error { return &provider.Error{Class: provider.ClassRetryable, Message: "connection refused"} }
			cloud.mu.Unlock()
		})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(20*time.Second, cancel)
		plan := planOf(t, planner.Settings{StepTimeout: planner.Duration(10 * time.Hour)}, oneTarget(),
			[]planner.Step{versionStep("t", "a-1", "1", "2", 0), versionStep("t", "a-2", "1", "2", 0)})
		rec, err := runApply(t, ctx, plan, cloud.registry(), t.TempDir(), func(o *Options) { o.StopTimeout = time.Minute })
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 5*time.Minute {
			t.Errorf("apply followed failing polls for %s after the stop; --stop-timeout is 1m", took)
		}
		if rec.Outcome.ExitCode != ExitStopped || rec.Counts[StatusCancelled] != 2 || !strings.Contains(rec.Outcome.Reason, "2 steps in flight cancelled") {
			t.Errorf("exit %d %q, %s; want 3 with both in doubt", rec.Outcome.ExitCode, rec.Outcome.Reason, statusLine(rec))
		}
	})
}

// After a second signal the record says how many steps were cancelled, never that the
// steps in flight were followed to the end.
func TestASecondSignalIsRecordedTruthfully(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(time.Minute, fleetOf(2, "a", "1"))
		ctx, cancel := context.WithCancel(t.Context())
		hard := make(chan struct{})
		time.AfterFunc(10*time.Second, cancel)
		time.AfterFunc(20*time.Second, func() { close(hard) })
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0), versionStep("t", "a-2", "1", "2", 0)})
		rec, err := runApply(t, ctx, plan, cloud.registry(), t.TempDir(), func(o *Options) { o.Hard = hard })
		if err != nil {
			t.Fatal(err)
		}
		if r := rec.Outcome.Reason; strings.Contains(r, "followed to the end") || !strings.Contains(r, "2 cancelled") {
			t.Errorf("reason %q: want the 2 cancelled steps named", r)
		}
		for _, s := range rec.Steps {
			if s.Status != StatusCancelled || !strings.Contains(s.Reason, "sent") {
				t.Errorf("%s %s %q: want cancelled, saying whether its call was sent", s.ID, s.Status, s.Reason)
			}
		}
	})
}

// A plan is applied once: the same plan file into another run directory is refused (exit
// 4) naming the run that holds it; the same --out continues that run (a cron job's one
// command line), all done: exit 0 without a call.
func TestAPlanIsAppliedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, fleetOf(1, "a", "1"))
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
		base := t.TempDir()
		first := filepath.Join(base, "run")
		locks := func(o *Options) { o.LockDir = filepath.Join(base, "locks") }
		if rec, err := runApply(t, t.Context(), plan, cloud.registry(), first, locks); err != nil || rec.Outcome.ExitCode != ExitOK {
			t.Fatalf("first apply: %v %+v", err, rec)
		}
		started := false
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), filepath.Join(base, "other"), func(o *Options) {
			locks(o)
			o.OnStart = func() { started = true }
		})
		if ExitCode(rec, err) != ExitRefused || !strings.Contains(fmt.Sprint(err), first) {
			t.Errorf("the same plan into another run directory: exit %d (%v), want 4 naming %s", ExitCode(rec, err), err, first)
		}
		if _, err := os.Stat(filepath.Join(base, "other")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the refused apply left its run directory behind (%v); it attempted nothing", err)
		}
		if started {
			t.Error("the refused apply said the run started")
		}
		other := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "2", "3", 0)})
		rec, err = runApply(t, t.Context(), other, cloud.registry(), first, func(o *Options) {
			locks(o)
			o.OnStart = func() { started = true }
		})
		if ExitCode(rec, err) != ExitRefused || started {
			t.Errorf("another plan into the run's directory: exit %d (%v), said started %v; want 4, not started", ExitCode(rec, err), err, started)
		}
		rec, err = runApply(t, t.Context(), plan, cloud.registry(), first, locks)
		if err != nil || rec.Outcome.ExitCode != ExitOK || len(rec.Segments) != 2 {
			t.Errorf("the same --out again: %v %+v, want the run continued, exit 0", err, rec)
		}
		if n := cloud.sends("a-1"); n != 1 {
			t.Errorf("a-1 received %d calls", n)
		}
	})
}

// The refresh judges one step per group: a look older than the freshness bound is taken
// again before the call anyway, every kind's first call waits for the slowest group's
// refresh, and a product that reads one instance per call (MongoDB's kernel) spent seconds
// (what its bucket sends in the first second) to minutes (the whole fleet) on it. The
// steps it leaves are judged right before their calls, each upgraded once.
func TestTheRefreshJudgesOneStepPerGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(time.Second, fleetOf(40, "a", "1"))
		cloud.perWatch = 250 * time.Millisecond
		settings := planner.Settings{QPS: map[string]float64{fakeKind + "/Upgrade": 4}}
		var steps []planner.Step
		for i := range 40 {
			steps = append(steps, versionStep("t", fmt.Sprintf("a-%d", i+1), "1", "2", 0))
		}
		rec, err := runApply(t, t.Context(), planOf(t, settings, oneTarget(), steps), cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(cloud.observed) == 0 || cloud.observed[0] != 1 {
			t.Errorf("the refresh observed %v watches, want 1", cloud.observed[:min(1, len(cloud.observed))])
		}
		for inst, n := range cloud.upgrades() {
			if n != 1 {
				t.Errorf("%s upgraded %d times", inst, n)
			}
		}
		if c := rec.Counts; c[StatusSucceeded] != 40 {
			t.Errorf("counts %v, want 40 succeeded", c)
		}
	})
}

package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// Window: steps after end−cutoff are not started (exit 3); steps in flight finish.
func TestWindowCutoffStopsNewStepsAndFollowsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(50*time.Second, fleetOf(4, "a", "1"))
		now := time.Now()
		var steps []planner.Step
		for i := 1; i <= 4; i++ {
			steps = append(steps, versionStep("t", fmt.Sprintf("a-%d", i), "1", "2", 0))
		}
		plan := planOf(t, planner.Settings{Window: &planner.Window{Start: now.Add(time.Minute), End: now.Add(3 * time.Minute), Cutoff: planner.Duration(90 * time.Second)}},
			[]planner.Target{{Name: "t", Kind: fakeKind, Region: "r1", MaxConcurrent: 2}}, steps)
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		ups := cloud.callsOf("Upgrade")
		if len(ups) != 2 {
			t.Fatalf("%d upgrade calls, want 2 (two slots before the cutoff)", len(ups))
		}
		for _, u := range ups {
			if u.at.Before(now.Add(time.Minute)) {
				t.Errorf("call at %s, before the window opened", u.at.Sub(now))
			}
		}
		if rec.Counts[StatusSucceeded] != 2 || rec.Counts[StatusNotStarted] != 2 {
			t.Errorf("counts %v, want 2 succeeded (followed past the cutoff) and 2 not started", rec.Counts)
		}
		if rec.Outcome.ExitCode != ExitStopped || !strings.Contains(rec.Outcome.Reason, "window") {
			t.Errorf("outcome %+v, want exit 3 naming the window", rec.Outcome)
		}
	})
}

// Failure budget: once exceeded no new step starts (exit 3); a resume runs the rest without
// repeating what finished.
func TestFailureBudgetStopsAndResumeFinishes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, fleetOf(6, "a", "1"))
		failing := map[string]bool{}
		cloud.fault = func(c provider.Call, n int) (error, bool) {
			if len(failing) < 2 || failing[c.Instance] {
				failing[c.Instance] = true
				return &provider.Error{Class: provider.ClassPermanent, Code: "InvalidParameter"}, false
			}
			return nil, true
		}
		var steps []planner.Step
		for i := 1; i <= 6; i++ {
			steps = append(steps, versionStep("t", fmt.Sprintf("a-%d", i), "1", "2", 0))
		}
		plan := planOf(t, planner.Settings{MaxFailures: "1", Parallelism: 1}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}}, steps)
		dir := t.TempDir()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Outcome.ExitCode != ExitStopped || !strings.Contains(rec.Outcome.Reason, "failure budget") {
			t.Fatalf("outcome %+v, want exit 3 for the failure budget", rec.Outcome)
		}
		if rec.Counts[StatusFailed] != 2 || rec.Counts[StatusNotStarted] != 4 {
			t.Fatalf("counts %v, want 2 failed and 4 not started", rec.Counts)
		}
		rec2, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) { o.Resume = true })
		if err != nil {
			t.Fatal(err)
		}
		if rec2.Counts[StatusSucceeded] != 4 || rec2.Counts[StatusFailed] != 2 || rec2.Outcome.ExitCode != ExitFailed {
			t.Errorf("after resume: counts %v outcome %+v, want 4 succeeded, the 2 failures kept, exit 2", rec2.Counts, rec2.Outcome)
		}
		if n := len(cloud.callsOf("Upgrade")); n != 6 {
			t.Errorf("%d upgrade calls over both segments, want 6 (nothing repeated)", n)
		}
		if len(rec2.Segments) != 2 || !rec2.Segments[1].Resumed || rec2.Segments[0].Stop == "" {
			t.Errorf("segments %+v, want the stopped first and a resumed second", rec2.Segments)
		}
	})
}

// Resume reconciles a step with an intent and no result by reading live state first.
func TestResumeReconcilesInDoubtSteps(t *testing.T) {
	cases := []struct {
		name      string
		upgrading bool // the lost call did take effect
		wantCalls int
	}{
		{"a call that took effect before the crash is followed, not sent again", true, 0},
		{"a call that never arrived is sent again with the same token", false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cloud := newFakeCloud(30*time.Second, fleetOf(1, "a", "1"))
				plan := planOf(t, planner.Settings{}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}}, []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
				tok := ClientToken(plan, "t/a-1")
				dir := killedSegment(t, plan, Entry{Type: EntryIntent, StepID: "t/a-1", Attempt: 1, ClientToken: tok})
				if tc.upgrading {
					cloud.mu.Lock()
					cloud.insts["a-1"].pendingTo = provider.Values{"version": "2"}
					cloud.insts["a-1"].busyUntil = time.Now().Add(30 * time.Second)
					cloud.mu.Unlock()
				}
				rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) { o.Resume = true })
				if err != nil {
					t.Fatal(err)
				}
				s := stepByID(t, rec, "t/a-1")
				if s.Status != StatusSucceeded {
					t.Fatalf("step %+v, want succeeded", s)
				}
				ups := cloud.callsOf("Upgrade")
				if len(ups) != tc.wantCalls {
					t.Fatalf("%d upgrade calls on resume, want %d", len(ups), tc.wantCalls)
				}
				if len(ups) == 1 && ups[0].token != tok {
					t.Errorf("resent with token %q, want the journaled %q", ups[0].token, tok)
				}
				if s.Attempts != 1+tc.wantCalls {
					t.Errorf("attempts %d, want %d (the journaled intent counts)", s.Attempts, 1+tc.wantCalls)
				}
			})
		})
	}
}

// The first signal stops new steps and follows those in flight (exit 3); the second abandons
// them, recorded cancelled, and a resume follows them without a second call.
func TestSignals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(time.Minute, fleetOf(4, "a", "1"))
		var steps []planner.Step
		for i := 1; i <= 4; i++ {
			steps = append(steps, versionStep("t", fmt.Sprintf("a-%d", i), "1", "2", 0))
		}
		plan := planOf(t, planner.Settings{Parallelism: 2}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}}, steps)

		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(10*time.Second, func() { cancel(errors.New("interrupted by terminated")) })
		rec, err := runApply(t, ctx, plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Counts[StatusSucceeded] != 2 || rec.Counts[StatusNotStarted] != 2 || rec.Outcome.ExitCode != ExitStopped {
			t.Errorf("first signal: counts %v outcome %+v, want 2 followed to success, 2 not started, exit 3", rec.Counts, rec.Outcome)
		}
		if !strings.Contains(rec.Outcome.Reason, "terminated") {
			t.Errorf("reason %q does not name the signal", rec.Outcome.Reason)
		}

		cloud2 := newFakeCloud(time.Minute, fleetOf(4, "a", "1"))
		hard := make(chan struct{})
		ctx2, cancel2 := context.WithCancel(t.Context())
		time.AfterFunc(10*time.Second, cancel2)
		time.AfterFunc(20*time.Second, func() { close(hard) })
		dir := t.TempDir()
		rec, err = runApply(t, ctx2, plan, cloud2.registry(), dir, func(o *Options) { o.Hard = hard })
		if err != nil {
			t.Fatal(err)
		}
		if rec.Counts[StatusCancelled] != 2 || rec.Outcome.ExitCode != ExitStopped {
			t.Errorf("second signal: counts %v outcome %+v, want 2 cancelled, exit 3", rec.Counts, rec.Outcome)
		}
		rec, err = runApply(t, t.Context(), plan, cloud2.registry(), dir, func(o *Options) { o.Resume = true })
		if err != nil {
			t.Fatal(err)
		}
		if rec.Counts[StatusSucceeded] != 4 {
			t.Errorf("after resume: counts %v, want 4 succeeded", rec.Counts)
		}
		for id, n := range cloud2.upgrades() {
			if n != 1 {
				t.Errorf("%s got %d upgrade calls, want 1", id, n)
			}
		}
	})
}

// A kill between the journal's line of a refused call and the step's line of how it
// ended: the resume ends the step as the killed segment did, with that answer, and sends
// nothing. Before, it judged the step afresh and sent the call again.
func TestResumeKeepsARefusalWhoseEndWasNotJournaled(t *testing.T) {
	for _, tc := range []struct {
		name  string
		class provider.Class
		code  string
		want  Status
	}{
		{"a permanent refusal: failed", provider.ClassPermanent, "InvalidParameter", StatusFailed},
		{"nothing to do: noop", provider.ClassNoChange, "ONS_INIT_ENV_ERROR", StatusNoop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cloud := newFakeCloud(30*time.Second, fleetOf(1, "a", "1"))
				plan := planOf(t, planner.Settings{}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}}, []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
				refusal := &StepError{Class: tc.class, Code: tc.code, Message: "refused", RequestID: "req-1"}
				dir := killedSegment(t, plan,
					Entry{Type: EntryIntent, StepID: "t/a-1", Attempt: 1, ClientToken: ClientToken(plan, "t/a-1")},
					Entry{Type: EntryResult, StepID: "t/a-1", Attempt: 1, RequestID: "req-1", Error: refusal, Class: refusal.Class})
				rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) { o.Resume = true })
				if err != nil {
					t.Fatal(err)
				}
				if n := len(cloud.callsOf("Upgrade")); n != 0 {
					t.Errorf("%d upgrade calls on resume after the cloud refused the call; want none", n)
				}
				s := stepByID(t, rec, "t/a-1")
				said := s.Reason
				if s.Error != nil {
					said += " " + s.Error.Code + " " + s.Error.RequestID
				}
				if s.Status != tc.want || !strings.Contains(said, tc.code) || !strings.Contains(said, "req-1") || s.FinishedAt == nil {
					t.Errorf("step %s, reason %q, error %+v, finished %v; want %s with the journaled answer", s.Status, s.Reason, s.Error, s.FinishedAt, tc.want)
				}
			})
		})
	}
}

// The answer of a call in flight arrives after the second signal: the record keeps it
// (accepted, its request id) instead of "its answer not received", and a resume follows
// the accepted call without a second one.
func TestAnAnswerThatArrivesAfterTheSecondSignalIsRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(time.Minute, fleetOf(1, "a", "1"))
		cloud.latency = func() (in, out time.Duration) { return 0, 30 * time.Second } // the answer comes back late
		ctx, cancel := context.WithCancel(t.Context())
		hard := make(chan struct{})
		time.AfterFunc(10*time.Second, cancel)
		time.AfterFunc(20*time.Second, func() { close(hard) })
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
		dir := t.TempDir()
		rec, err := runApply(t, ctx, plan, cloud.registry(), dir, func(o *Options) { o.Hard = hard })
		if err != nil {
			t.Fatal(err)
		}
		s := stepByID(t, rec, "t/a-1")
		if s.Status != StatusCancelled || !strings.Contains(s.Reason, "accepted") || len(s.RequestIDs) != 1 {
			t.Errorf("step %s %q, request ids %v; want cancelled, accepted, with the answer's request id", s.Status, s.Reason, s.RequestIDs)
		}
		rec, err = runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) { o.Resume = true })
		if err != nil {
			t.Fatal(err)
		}
		if s := stepByID(t, rec, "t/a-1"); s.Status != StatusSucceeded {
			t.Errorf("after resume: %s %q; want succeeded", s.Status, s.Reason)
		}
		if n := len(cloud.callsOf("Upgrade")); n != 1 {
			t.Errorf("%d upgrade calls; want 1", n)
		}
	})
}

// killedSegment is a run directory whose journal holds a segment of plan that began and
// wrote entries, then was killed (no end line).
func killedSegment(t *testing.T, plan *planner.Plan, entries ...Entry) string {
	t.Helper()
	dir := t.TempDir()
	j, err := openJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	j.write(Entry{Type: EntryBegin, Digest: plan.Digest, PID: 1})
	for _, e := range entries {
		j.write(e)
	}
	j.close()
	return dir
}

package executor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
)

// A resume that finds an in-doubt step whose call never took effect sends that call again
// only inside the change window: the resend is a new upgrade call like any other.
func TestResumeResendsAnInDoubtCallOnlyInsideTheWindow(t *testing.T) {
	cases := []struct {
		name      string
		window    func(now time.Time) *planner.Window // the segment's window (plan's)
		wantCalls int
		want      Status
	}{
		{"a window that opens later is waited for before the resend",
			func(now time.Time) *planner.Window {
				return &planner.Window{Start: now.Add(time.Hour), End: now.Add(3 * time.Hour), Cutoff: planner.Duration(30 * time.Minute)}
			}, 1, StatusSucceeded},
		// The intent may have reached the cloud: the record says so (in doubt), and a later
		// resume reconciles it again.
		{"a window past its cutoff gets no resend and the run stops",
			func(now time.Time) *planner.Window {
				return &planner.Window{Start: now.Add(-3 * time.Hour), End: now.Add(-time.Hour), Cutoff: planner.Duration(30 * time.Minute)}
			}, 0, StatusCancelled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cloud := newFakeCloud(30*time.Second, fleetOf(1, "a", "1"))
				now := time.Now()
				w := tc.window(now)
				plan := planOf(t, planner.Settings{Window: w}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}},
					[]planner.Step{versionStep("t", "a-1", "1", "2", 0)})
				dir := t.TempDir()
				j, err := openJournal(dir)
				if err != nil {
					t.Fatal(err)
				}
				j.write(Entry{Type: EntryBegin, Digest: plan.Digest, PID: 1})
				j.write(Entry{Type: EntryIntent, StepID: "t/a-1", Attempt: 1, ClientToken: ClientToken(plan, "t/a-1")})
				j.close()
				rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) { o.Resume = true })
				if err != nil {
					t.Fatal(err)
				}
				ups := cloud.callsOf("Upgrade")
				if len(ups) != tc.wantCalls {
					t.Fatalf("%d upgrade calls on resume, want %d", len(ups), tc.wantCalls)
				}
				for _, u := range ups {
					if u.at.Before(w.Start) || !u.at.Before(w.End.Add(-time.Duration(w.Cutoff))) {
						t.Errorf("resent at now%+v, outside the window [now%+v, now%+v)", u.at.Sub(now),
							w.Start.Sub(now), w.End.Add(-time.Duration(w.Cutoff)).Sub(now))
					}
				}
				if s := stepByID(t, rec, "t/a-1"); s.Status != tc.want {
					t.Errorf("step %s (%s), want %s", s.Status, s.Reason, tc.want)
				}
			})
		})
	}
}

// A step that waits for a busy instance must not start once the window's cutoff has passed,
// even when the look that finds the instance ready was asked for before the cutoff.
func TestBusyInstanceReadyOnlyAfterTheCutoffIsNotStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, fleetOf(1, "m", "1"))
		start := time.Now()
		// Polls come every 5 s from the start; the cutoff falls between the poll at 5:00,
		// which still sees the instance busy, and the one at 5:05, which sees it ready.
		cloud.busy("m-1", start.Add(5*time.Minute+3*time.Second))
		w := &planner.Window{Start: start.Add(-time.Minute), End: start.Add(10*time.Minute + 2500*time.Millisecond), Cutoff: planner.Duration(5 * time.Minute)}
		plan := planOf(t, planner.Settings{Window: w}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}},
			[]planner.Step{versionStep("t", "m-1", "1", "2", 0)})
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if ups := cloud.callsOf("Upgrade"); len(ups) != 0 {
			t.Fatalf("upgrade sent at start%+v, after the cutoff at start+5m2.5s", ups[0].at.Sub(start))
		}
		if s := stepByID(t, rec, "t/m-1"); s.Status != StatusNotStarted || !strings.Contains(s.Reason, "window cutoff") {
			t.Errorf("step %s (%s), want not-started for the window cutoff", s.Status, s.Reason)
		}
		if rec.Outcome.ExitCode != ExitStopped {
			t.Errorf("exit %d, want 3", rec.Outcome.ExitCode)
		}
	})
}

// The same for the first signal: a step still waiting for its busy instance when it arrives
// does not start afterwards.
func TestBusyInstanceReadyOnlyAfterTheFirstSignalIsNotStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, fleetOf(1, "m", "1"))
		start := time.Now()
		cloud.busy("m-1", start.Add(5*time.Minute+3*time.Second))
		plan := planOf(t, planner.Settings{}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}},
			[]planner.Step{versionStep("t", "m-1", "1", "2", 0)})
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(5*time.Minute+2500*time.Millisecond, func() { cancel(errors.New("interrupted by terminated")) })
		rec, err := runApply(t, ctx, plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if ups := cloud.callsOf("Upgrade"); len(ups) != 0 {
			t.Fatalf("upgrade sent at start%+v, after the signal at start+5m2.5s", ups[0].at.Sub(start))
		}
		if s := stepByID(t, rec, "t/m-1"); s.Status != StatusNotStarted || rec.Outcome.ExitCode != ExitStopped {
			t.Errorf("step %s (%s), exit %d; want not-started, exit 3", s.Status, s.Reason, rec.Outcome.ExitCode)
		}
	})
}

// A step whose instance stays busy fails at stepTimeout saying so, not blaming the reads
// (the timeout falls between two polls).
func TestBusyInstanceTimeoutSaysItWasBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, fleetOf(1, "m", "1"))
		cloud.busy("m-1", time.Now().Add(48*time.Hour))
		plan := planOf(t, planner.Settings{StepTimeout: planner.Duration(10*time.Minute + 2*time.Second)}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}},
			[]planner.Step{versionStep("t", "m-1", "1", "2", 0)})
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		s := stepByID(t, rec, "t/m-1")
		if s.Error == nil || !strings.Contains(s.Error.Message, "still busy") {
			t.Errorf("error %+v, want it to say the instance was still busy", s.Error)
		}
	})
}

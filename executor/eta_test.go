package executor

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
)

// The progress ETA is what the rate cap and the work in flight allow at best: before any
// step has completed it is the unsent calls at the cap; once a duration is known it adds
// that duration; it never promises less time than the run then takes by more than the
// polling lag, never more than it takes, and it is zero at the end.
func TestProgressETAFollowsTheRateCapAndTheObservedDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 10
		const duration = 30 * time.Second
		cloud := newFakeCloud(duration, fleetOf(n, "a", "1"))
		var steps []planner.Step
		for i := 1; i <= n; i++ {
			steps = append(steps, versionStep("ta", fmt.Sprintf("a-%d", i), "1", "2", 0))
		}
		plan := planOf(t, planner.Settings{Parallelism: n}, []planner.Target{{Name: "ta", Kind: fakeKind, Region: "r1"}}, steps)
		var mu sync.Mutex
		var events []Event
		start := time.Now()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), func(o *Options) {
			o.OnEvent = func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
		})
		if err != nil {
			t.Fatal(err)
		}
		end := time.Now()
		if rec.Counts[StatusSucceeded] != n {
			t.Fatalf("counts %v, want %d succeeded", rec.Counts, n)
		}
		// The cap is 2/s (less the safety margin): the first step starts with the other nine
		// calls still to send, about 9/1.98 s, and nothing is known of the duration yet.
		first := events[0]
		if first.Status != StatusRunning {
			t.Fatalf("first event %+v, want a step running", first)
		}
		if lo, hi := 4*time.Second, 5*time.Second; first.Progress.ETA < lo || first.Progress.ETA > hi {
			t.Errorf("ETA at the first call = %s, want the nine calls left at the cap (%s–%s)", first.Progress.ETA, lo, hi)
		}
		sawDuration := false
		for _, e := range events {
			remaining := end.Sub(e.Time)
			if e.Progress.Done == e.Progress.Total {
				if e.Progress.ETA != 0 {
					t.Errorf("ETA %s once every step is done, want 0", e.Progress.ETA)
				}
				continue
			}
			if e.Progress.ETA <= 0 {
				t.Errorf("event at +%s (%d/%d done): no ETA while steps remain", e.Time.Sub(start), e.Progress.Done, e.Progress.Total)
			}
			if e.Progress.ETA > remaining+time.Second {
				t.Errorf("event at +%s: ETA %s, but the run ended %s later: the ETA must be a best case", e.Time.Sub(start), e.Progress.ETA, remaining)
			}
			if e.Progress.Done > 0 {
				sawDuration = true
				// The duration is known now: the ETA misses only the lag of seeing the last step done.
				if lag := remaining - e.Progress.ETA; lag > time.Duration(plan.Settings.PollInterval)+time.Second {
					t.Errorf("event at +%s: ETA %s, the run ended %s later: more than a poll interval off", e.Time.Sub(start), e.Progress.ETA, remaining)
				}
			}
		}
		if !sawDuration {
			t.Error("no event after the first completion")
		}
	})
}

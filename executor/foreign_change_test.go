package executor

// The lease's foreign-change wait (lease.go, afterForeignChange): a step whose instance
// another run's step has just changed waits out the kind's visibility grace and judges the
// instance afresh, instead of sending its call on the verdict it held before the lease.

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// foreignState is the run directory's state plus what a shared state (PostgreSQL) says
// about other runs: changedAt(key) is when another run's step that had sent a call to the
// instance let its lease go.
type foreignState struct {
	DirState
	changedAt func(key InstanceKey) time.Time
}

func (f foreignState) Open(ctx context.Context, digest, run string) (RunState, error) {
	rs, err := f.DirState.Open(ctx, digest, run)
	if err != nil {
		return nil, err
	}
	return foreignRun{RunState: rs, changedAt: f.changedAt}, nil
}

type foreignRun struct {
	RunState
	changedAt func(key InstanceKey) time.Time
}

func (f foreignRun) ForeignChange(key InstanceKey) time.Time { return f.changedAt(key) }

// Another run upgraded the instance and let its lease go just before ours; its change shows
// in the lists only after a while (within the grace). Judged on the verdict of the refresh,
// the step would upgrade the instance a second time; it waits out the grace instead, looks
// again, sees the other run's change and ends noop without a call.
func TestAStepAfterAnotherRunsChangeWaitsOutTheGraceAndJudgesAfresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const grace = 40 * time.Second
		cloud := newFakeCloud(30*time.Second, fleetOf(1, "a", "1"))
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
		var (
			mu      sync.Mutex
			changed time.Time
			asked   int
		)
		changedAt := func(key InstanceKey) time.Time {
			mu.Lock()
			defer mu.Unlock()
			asked++
			if key.Instance != "a-1" {
				return time.Time{}
			}
			if changed.IsZero() {
				// The other run's step let go of the lease right now; its change becomes
				// visible in the lists 10 s later, well within the grace.
				changed = time.Now()
				go func() {
					time.Sleep(10 * time.Second)
					cloud.set("a-1", provider.Values{"version": "2"})
				}()
			}
			return changed
		}
		dir := t.TempDir()
		start := time.Now()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) {
			o.State = foreignState{DirState: DirState{LockDir: dir + ".locks"}, changedAt: changedAt}
			o.VisibilityGrace = map[string]time.Duration{fakeKind: grace}
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := cloud.sends("a-1"); n != 0 {
			t.Errorf("the step sent %d upgrades to an instance another run had just upgraded", n)
		}
		s := stepByID(t, rec, "t/a-1")
		if s.Status != StatusNoop {
			t.Errorf("step %s (%s), want noop: the other run's change was visible after the grace", s.Status, s.Reason)
		}
		if asked == 0 {
			t.Fatal("the state was never asked about other runs' changes")
		}
		if took := time.Since(start); took < grace {
			t.Errorf("the step ended after %s, before the %s grace from the other run's change", took, grace)
		}
	})
}

// A change by another run longer than the grace ago has long shown: the step keeps the
// verdict it holds and its call goes out at once.
func TestAStepAfterAnOldForeignChangeDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const grace = 40 * time.Second
		cloud := newFakeCloud(30*time.Second, fleetOf(1, "a", "1"))
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
		old := time.Now().Add(-2 * grace)
		dir := t.TempDir()
		start := time.Now()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) {
			o.State = foreignState{DirState: DirState{LockDir: dir + ".locks"}, changedAt: func(InstanceKey) time.Time { return old }}
			o.VisibilityGrace = map[string]time.Duration{fakeKind: grace}
		})
		if err != nil {
			t.Fatal(err)
		}
		if s := stepByID(t, rec, "t/a-1"); s.Status != StatusSucceeded || cloud.sends("a-1") != 1 {
			t.Fatalf("step %s with %d calls, want succeeded with one", s.Status, cloud.sends("a-1"))
		}
		calls := cloud.callsOf("Upgrade")
		if wait := calls[0].at.Sub(start); wait >= grace {
			t.Errorf("the call went out %s after the start: a change %s old should not hold it", wait, 2*grace)
		}
	})
}

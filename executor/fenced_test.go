package executor

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// fencedDir is the local state with a hold on the run that a test can lose, as the
// PostgreSQL state's lock connection can die.
type fencedDir struct {
	DirState
	lost *atomic.Bool
}

func (d fencedDir) Open(ctx context.Context, digest, out string) (RunState, error) {
	rs, err := d.DirState.Open(ctx, digest, out)
	if err != nil {
		return nil, err
	}
	return fencedRun{rs, d.lost}, nil
}

type fencedRun struct {
	RunState
	lost *atomic.Bool
}

func (r fencedRun) Confirm(context.Context) error {
	if r.lost.Load() {
		return errors.New("the plan's lock is no longer held by this runner")
	}
	return nil
}

// A call whose first send was throttled goes out again under the intent written before it,
// so the Append that fences intents does not see the resend. The lock is lost between the
// two (another runner may now hold the run and read that intent as maybe sent): the resend
// is not sent, the run stops, and the step says why.
func TestAResendAfterAThrottleIsNotSentOnceTheRunsLockIsLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(30*time.Second, fleetOf(1, "a", "1"))
		var lost atomic.Bool
		cloud.fault = func(c provider.Call, n int) (error, bool) {
			if n == 1 {
				lost.Store(true) // the lock's connection dies while the throttle backs off
				return &provider.Error{Class: provider.ClassThrottled, Code: "Throttling"}, false
			}
			return nil, true
		}
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
		dir := t.TempDir()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) {
			o.State = fencedDir{DirState{LockDir: dir + ".locks"}, &lost}
		})
		if err != nil && rec == nil {
			t.Fatal(err)
		}
		if n := len(cloud.callsOf("Upgrade")); n != 1 {
			t.Errorf("%d upgrade calls; want only the throttled one, no resend once the lock was lost", n)
		}
		s := stepByID(t, rec, "t/a-1")
		if s.Status != StatusNotStarted || !strings.Contains(s.Reason, "lock was lost") {
			t.Errorf("step %s %q; want not started, saying the lock was lost", s.Status, s.Reason)
		}
	})
}

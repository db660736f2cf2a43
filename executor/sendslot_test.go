package executor

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// slowAndFast is a plan of nSlow steps of a 0.5/s bucket (action Slow) and nFast of the
// fake's 2/s Upgrade bucket, all of one target, sharing `par` parallelism slots, and the
// cloud it runs on (every upgrade takes d).
func slowAndFast(t *testing.T, nSlow, nFast, par int, d time.Duration) (*planner.Plan, *fakeCloud, provider.Registry) {
	t.Helper()
	insts := fleetOf(nSlow, "s", "1")
	for id, v := range fleetOf(nFast, "f", "1") {
		insts[id] = v
	}
	cloud := newFakeCloud(d, insts)
	reg := cloud.registry()
	spec := reg[fakeKind]
	spec.Actions = append(spec.Actions, provider.ActionSpec{Name: "Slow", Mutating: true, QPS: 0.5})
	reg[fakeKind] = spec
	var steps []planner.Step
	for i := 1; i <= nSlow; i++ {
		s := versionStep("t", fmt.Sprintf("s-%d", i), "1", "2", 0)
		s.Action = "Slow"
		steps = append(steps, s)
	}
	for i := 1; i <= nFast; i++ {
		steps = append(steps, versionStep("t", fmt.Sprintf("f-%d", i), "1", "2", 0))
	}
	plan := planOf(t, planner.Settings{Parallelism: par, QPS: map[string]float64{fakeKind + "/Upgrade": 20}}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}}, steps)
	return plan, cloud, reg
}

// A step waiting for its bucket's rate-limit token holds no parallelism slot: with two
// slots, the steps of a 0.5/s bucket waiting up to 2 s for their tokens used to hold one
// of them, so the fast bucket's steps ran one at a time for much of the run. Slots are
// taken right before the call: the fast bucket uses both slots while the slow one waits,
// and still never more than two upgrades run at once at the cloud.
func TestAStepWaitingForItsTokenHoldsNoSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan, cloud, reg := slowAndFast(t, 6, 24, 2, time.Second)
		start := time.Now()
		rec, err := runApply(t, t.Context(), plan, reg, t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Outcome.ExitCode != ExitOK {
			t.Fatalf("outcome %+v counts %v", rec.Outcome, rec.Counts)
		}
		// 30 one-second upgrades in 2 slots, each seen done 0.22 s after its end here, is
		// 18.3 s. With the slow bucket's steps holding a slot through their token wait it
		// took 20.6 s.
		if took := time.Since(start); took > 19*time.Second {
			t.Errorf("the run took %s; 30 one-second upgrades in 2 slots need about 15 s", took)
		}
		for id, n := range cloud.upgrades() {
			if n != 1 {
				t.Errorf("%s got %d upgrade calls", id, n)
			}
		}
		checkCloudParallelism(t, cloud, time.Second, 2)
	})
}

// checkCloudParallelism fails when more than par upgrades (each lasting d from its
// accepted call) ran at the cloud at once.
func checkCloudParallelism(t *testing.T, cloud *fakeCloud, d time.Duration, par int) {
	t.Helper()
	var calls []fakeCall
	for _, c := range cloud.calls {
		if c.action != "List" && !c.throttled && !c.err && !c.dryRun {
			calls = append(calls, c)
		}
	}
	for _, a := range calls {
		n := 0
		for _, b := range calls {
			if !b.at.After(a.at) && b.at.Add(d).After(a.at) {
				n++
			}
		}
		if n > par {
			t.Fatalf("%d upgrades at once at the cloud at %s, parallelism %d", n, a.at, par)
		}
	}
}

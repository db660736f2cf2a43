package executor

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
)

// The steps queued at a bucket's gate ride the group's polls (a line of a page the poll
// reads anyway), so one look judges the calls of the next seconds. Riding only once past
// the gate, every step that passed it alone took a look of its own before its call: the
// ideal bench's polls doubled (624 -> 1,058 at 2,000 instances).
func TestStepsQueuedAtTheGateShareTheLooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 60
		cloud := newFakeCloud(time.Second, fleetOf(n, "a", "1"))
		settings := planner.Settings{QPS: map[string]float64{fakeKind + "/Upgrade": 4}}
		var steps []planner.Step
		for i := range n {
			steps = append(steps, versionStep("t", fmt.Sprintf("a-%d", i+1), "1", "2", 0))
		}
		rec, err := runApply(t, t.Context(), planOf(t, settings, oneTarget(), steps), cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if c := rec.Counts; c[StatusSucceeded] != n {
			t.Fatalf("counts %v, want %d succeeded", c, n)
		}
		for inst, k := range cloud.upgrades() {
			if k != 1 {
				t.Errorf("%s upgraded %d times", inst, k)
			}
		}
		// 60 calls at 4/s take 15 s: a look every 2.5 s (half the 5 s bound) judges the
		// queue, and the completions are checked on top.
		polls := len(cloud.callsOf("List"))
		t.Logf("%d polls for %d steps", polls, n)
		if polls > n/3 {
			t.Errorf("%d polls for %d steps: the steps queued at the gate did not share the looks", polls, n)
		}
	})
}

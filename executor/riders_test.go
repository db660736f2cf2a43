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

// A poll judges as many steps about to start as their bucket sends in half the look
// bound, not a fixed 50: at 100,000 instances RabbitMQ's bucket sends 100/s while each
// poll pages up to 25 ListInstances at their 10/s, so 50 riders a poll held its sends to
// about 20/s and made it the run's end (146 s of 149). 600 steps at 200/s: a poll judges
// up to 500 of them; with 50 a poll the run took 17 polls (12 for the verdicts alone),
// now 11, completion checks included.
func TestAPollJudgesWhatTheBucketSendsInHalfTheBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 600
		cloud := newFakeCloud(time.Second, fleetOf(n, "a", "1"))
		settings := planner.Settings{Parallelism: n, QPS: map[string]float64{fakeKind + "/Upgrade": 200}}
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
		polls := len(cloud.callsOf("List"))
		t.Logf("%d polls for %d steps", polls, n)
		if polls >= n/maxRiders {
			t.Errorf("%d polls for %d steps at 200/s: at most %d riders a poll", polls, n, maxRiders)
		}
	})
}

package executor

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// Two accounts, each with its own 2/s upgrade bucket, share 2 parallelism slots; the plan
// lists all of a1's steps first. Handing slots out in plan order ran a1's bucket, then
// a2's (about 60 s); handing them to the bucket with the most rate-limited time left runs
// both buckets at once, so the run ends well before that.
func TestSlotsGoToTheBucketThatBoundsTheMakespan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 60
		insts := fleetOf(n, "x", "1")
		for id, v := range fleetOf(n, "y", "1") {
			insts[id] = v
		}
		cloud := newFakeCloud(100*time.Millisecond, insts)
		var steps []planner.Step
		for _, acct := range []struct{ name, prefix string }{{"a1", "x"}, {"a2", "y"}} {
			for i := 1; i <= n; i++ {
				s := versionStep("t"+acct.name, fmt.Sprintf("%s-%d", acct.prefix, i), "1", "2", 0)
				s.Account = acct.name
				steps = append(steps, s)
			}
		}
		plan := planOf(t, planner.Settings{Parallelism: 2}, []planner.Target{
			{Name: "ta1", Kind: fakeKind, Region: "r1"}, {Name: "ta2", Kind: fakeKind, Region: "r1"},
		}, steps)
		plan.Accounts = map[string]provider.Account{"a1": {}, "a2": {}}
		d, err := planner.ComputeDigest(plan)
		if err != nil {
			t.Fatal(err)
		}
		plan.Digest = d
		start := time.Now()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Outcome.ExitCode != ExitOK {
			t.Fatalf("outcome %+v counts %v", rec.Outcome, rec.Counts)
		}
		// Both buckets at their cap: 2n calls at 4/s is 30 s; one after the other, 60 s.
		if took := time.Since(start); took > 45*time.Second {
			t.Errorf("the run took %s; both accounts' buckets together allow about 30 s", took)
		}
		first := map[string]time.Time{}
		for _, s := range rec.Steps {
			if t0, ok := first[s.Account]; !ok || s.StartedAt.Before(t0) {
				first[s.Account] = *s.StartedAt
			}
		}
		if late := first["a2"].Sub(first["a1"]); late > 5*time.Second {
			t.Errorf("a2's first step started %s after a1's", late)
		}
	})
}

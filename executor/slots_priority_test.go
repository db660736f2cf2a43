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

// Four accounts, each with its own 2/s upgrade bucket, share 2 parallelism slots, and
// upgrades take 0.5 s, so one bucket at its cap fills one slot. Two independent targets
// have 40 steps each; a third has 20, and a fourth target of 40 steps dependsOn it. Scoring
// a waiter by its bucket's calls and its chain of operations alone gave both slots to the
// two larger targets for their 20 s, and the dependent target then ran alone on one slot
// at its cap (42–45 s in all). Counting the dependent target's rate-limited time in the
// score of the target it waits for runs that one first, and the run ends near its
// parallelism bound (140 steps × 0.5 s / 2 slots = 35 s).
func TestSlotsCountTheWorkThatWaitsForATarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type tgt struct {
			name, account, prefix string
			n                     int
		}
		tgts := []tgt{{"tc1", "a1", "c", 40}, {"tc2", "a2", "d", 40}, {"tm", "a3", "m", 20}, {"tr", "a4", "r", 40}}
		insts := map[string]provider.Values{}
		var steps []planner.Step
		var targets []planner.Target
		for _, g := range tgts {
			for id, v := range fleetOf(g.n, g.prefix, "1") {
				insts[id] = v
			}
			for i := 1; i <= g.n; i++ {
				s := versionStep(g.name, fmt.Sprintf("%s-%d", g.prefix, i), "1", "2", 0)
				s.Account = g.account
				steps = append(steps, s)
			}
			tg := planner.Target{Name: g.name, Kind: fakeKind, Region: "r1"}
			if g.name == "tr" {
				tg.DependsOn = []string{"tm"}
			}
			targets = append(targets, tg)
		}
		cloud := newFakeCloud(500*time.Millisecond, insts)
		plan := planOf(t, planner.Settings{Parallelism: 2}, targets, steps)
		plan.Accounts = map[string]provider.Account{"a1": {}, "a2": {}, "a3": {}, "a4": {}}
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
		took := time.Since(start)
		t.Logf("the run took %s", took)
		if took > 40*time.Second {
			t.Errorf("the run took %s; the parallelism allows about 35 s once tm goes first (its dependent waited, then ran alone)", took)
		}
	})
}

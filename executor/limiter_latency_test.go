package executor

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
)

// latencyRun applies n upgrades to a cloud that caps Upgrade at 2 requests per sliding
// second at arrival, with the given latency, and returns the span of the upgrade calls'
// arrivals and the throttled answers.
func latencyRun(t *testing.T, n int, latency func() (in, out time.Duration)) (time.Duration, int) {
	cloud := newFakeCloud(time.Second, fleetOf(n, "a", "1"))
	cloud.caps["Upgrade"] = 2
	cloud.latency = latency
	var steps []planner.Step
	for i := 1; i <= n; i++ {
		steps = append(steps, versionStep("ta", fmt.Sprintf("a-%d", i), "1", "2", 0))
	}
	plan := planOf(t, planner.Settings{Parallelism: n}, []planner.Target{{Name: "ta", Kind: fakeKind, Region: "r1"}}, steps)
	rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome.ExitCode != ExitOK {
		t.Fatalf("outcome %+v counts %v", rec.Outcome, rec.Counts)
	}
	calls := cloud.callsOf("Upgrade")
	throttled := 0
	for _, c := range calls {
		if c.throttled {
			throttled++
		}
	}
	return calls[len(calls)-1].at.Sub(calls[0].at), throttled
}

// A long round trip does not slow a bucket down: with 250 ms on every request, 200 upgrades
// at a cap of 2/s arrive within 3% of the 99.5 s the cap allows (the guard measured from
// the answer took 1.25 s per two calls: 124 s).
func TestRateDoesNotDependOnTheRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		span, throttled := latencyRun(t, 200, func() (time.Duration, time.Duration) {
			return 75 * time.Millisecond, 175 * time.Millisecond
		})
		if throttled != 0 {
			t.Errorf("%d throttled answers, want 0", throttled)
		}
		if ideal := 199 * time.Second / 2; span > ideal*103/100 {
			t.Errorf("200 upgrade calls arrived over %s, want within 3%% of %s", span, ideal)
		}
	})
}

// Under a jittered latency (50–300 ms per request, 30% of it on the way in, seeded) the
// cloud never sees more than its cap in any second.
func TestRateNeverExceedsTheCapUnderJitter(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				rnd := rand.New(rand.NewPCG(seed, seed))
				_, throttled := latencyRun(t, 60, func() (time.Duration, time.Duration) {
					mu.Lock()
					defer mu.Unlock()
					l := 50*time.Millisecond + time.Duration(rnd.Int64N(int64(250*time.Millisecond)))
					return l * 3 / 10, l * 7 / 10
				})
				if throttled != 0 {
					t.Errorf("%d throttled answers under jittered latency, want 0", throttled)
				}
			})
		})
	}
}

package executor

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// With the cloud's cap below the executor's, the run completes, throttles are counted and the
// bucket slowed down.
func TestThrottlingSlowsTheBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(5*time.Second, fleetOf(12, "a", "1"))
		cloud.caps["Upgrade"] = 1
		var steps []planner.Step
		for i := 1; i <= 12; i++ {
			steps = append(steps, versionStep("t", fmt.Sprintf("a-%d", i), "1", "2", 0))
		}
		plan := planOf(t, planner.Settings{Parallelism: 12}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}}, steps)
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Outcome.ExitCode != ExitOK {
			t.Fatalf("outcome %+v, want success despite throttling", rec.Outcome)
		}
		for id, n := range cloud.upgrades() {
			if n != 1 {
				t.Errorf("%s upgraded %d times", id, n)
			}
		}
		var b BucketStats
		for _, x := range rec.Buckets {
			if x.Action == fakeKind+"/Upgrade" {
				b = x
			}
		}
		if b.Throttles == 0 || b.MinRate >= b.Rate || b.Rate != 2 {
			t.Errorf("bucket %+v: want throttles counted and the rate halved below 2/s", b)
		}
	})
}

func TestLimiterKeepsEveryWindowUnderTheCap(t *testing.T) {
	for _, q := range []float64{1, 2, 10, 20} {
		t.Run(fmt.Sprintf("cap %g per second", q), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := NewLimiter(provider.Registry{"k": {Actions: []provider.ActionSpec{{Name: "A", QPS: q}}}}, planner.Settings{}, LimiterOptions{Seed: 1})
				var at []fakeCall
				for range int(q) * 5 {
					l.Do(t.Context(), provider.Request{Kind: "k", Action: "A"}, func(context.Context) error {
						at = append(at, fakeCall{at: time.Now()})
						return nil
					})
				}
				if m := maxPerSecond(at); m > int(q) {
					t.Errorf("%d requests in one second, cap %g", m, q)
				}
				if el := at[len(at)-1].at.Sub(at[0].at); el > time.Duration(float64(len(at))/q*1.1*float64(time.Second)) {
					t.Errorf("%d requests took %s: the bucket runs far below its cap", len(at), el)
				}
			})
		})
	}
}

func TestLimiterRetriesReadsButNotFailedMutatingCalls(t *testing.T) {
	cases := []struct {
		name     string
		mutating bool
		class    provider.Class
		sends    int
	}{
		{"a read that failed with a 5xx is retried until it succeeds", false, provider.ClassRetryable, 3},
		{"a read whose outcome is unknown is retried", false, provider.ClassUnknown, 3},
		{"a throttled mutating call is retried", true, provider.ClassThrottled, 3},
		{"a mutating call that failed with a 5xx goes back to the step", true, provider.ClassRetryable, 1},
		{"a mutating call whose outcome is unknown goes back to the step", true, provider.ClassUnknown, 1},
		{"a permanent error is never retried", false, provider.ClassPermanent, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := NewLimiter(nil, planner.Settings{}, LimiterOptions{Seed: 1})
				sends := 0
				l.Do(t.Context(), provider.Request{Kind: "k", Action: "A", Mutating: tc.mutating}, func(context.Context) error {
					sends++
					if sends < 3 {
						return &provider.Error{Class: tc.class}
					}
					return nil
				})
				if sends != tc.sends {
					t.Errorf("sent %d times, want %d", sends, tc.sends)
				}
			})
		})
	}
}

func TestBackoffIsFullJitterUnderTheCap(t *testing.T) {
	l := NewLimiter(nil, planner.Settings{}, LimiterOptions{Seed: 7, Retry: Retry{Base: 100 * time.Millisecond, Cap: time.Second}})
	for attempt := range 8 {
		ceil := min(time.Second, 100*time.Millisecond<<attempt)
		var hi time.Duration
		for range 200 {
			d := l.Backoff(attempt)
			if d < 0 || d > ceil {
				t.Fatalf("attempt %d: backoff %s outside [0, %s]", attempt, d, ceil)
			}
			hi = max(hi, d)
		}
		if hi < ceil/2 {
			t.Errorf("attempt %d: largest of 200 backoffs %s; full jitter should reach near %s", attempt, hi, ceil)
		}
	}
}

package executor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// lumpRun sends n reads in each of two accounts' buckets of DescribeDBInstanceAttribute
// at 100/s, 64 goroutines a bucket as plan's workers are, through a Limiter with the given
// Lump, over a jittered latency (20–120 ms, a third of it on the way in, seeded). It returns
// the distinct instants requests left at, the distinct instants the Limiter's sleeps ended
// at (each a wakeup of the idle process), the arrivals at the cloud per account (sorted)
// and the span of all sends.
func lumpRun(t *testing.T, lump time.Duration, n int, seed uint64) (instants, wakes int, arrivals map[string][]fakeCall, span time.Duration) {
	l := NewLimiter(nil, planner.Settings{QPS: map[string]float64{"alibaba.mongodb/DescribeDBInstanceAttribute": 100}}, LimiterOptions{Seed: 1, Lump: lump})
	var mu sync.Mutex
	woken := map[time.Time]bool{}
	l.sleep = func(ctx context.Context, d time.Duration) error {
		if d > 0 {
			mu.Lock()
			woken[time.Now().Add(d)] = true
			mu.Unlock()
		}
		return sleep(ctx, d)
	}
	rnd := rand.New(rand.NewPCG(seed, seed))
	sends := map[time.Time]bool{}
	arrivals = map[string][]fakeCall{}
	var first, last time.Time
	var eg errgroup.Group
	for _, account := range []string{"a", "b"} {
		var next int
		for range 64 {
			eg.Go(func() error {
				for {
					mu.Lock()
					if next == n {
						mu.Unlock()
						return nil
					}
					next++
					mu.Unlock()
					req := provider.Request{Kind: "alibaba.mongodb", Account: account, Region: "cn-hangzhou", Action: "DescribeDBInstanceAttribute"}
					err := l.Do(t.Context(), req, func(context.Context) error {
						mu.Lock()
						now := time.Now()
						sends[now] = true
						if first.IsZero() {
							first = now
						}
						last = now
						rtt := 20*time.Millisecond + time.Duration(rnd.Int64N(int64(100*time.Millisecond)))
						mu.Unlock()
						time.Sleep(rtt / 3)
						mu.Lock()
						arrivals[account] = append(arrivals[account], fakeCall{at: time.Now()})
						mu.Unlock()
						time.Sleep(rtt - rtt/3)
						return nil
					})
					if err != nil {
						return err
					}
				}
			})
		}
	}
	if err := eg.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, a := range arrivals {
		slices.SortFunc(a, func(x, y fakeCall) int { return x.at.Compare(y.at) })
	}
	return len(sends), len(woken), arrivals, last.Sub(first)
}

// Plan's kernel reads leave in lumps: with a 50 ms Lump the 1,200 reads of two buckets at
// 100/s leave at hardly more instants than there are 50 ms in their span (one by one
// they left at 1,101), the Limiter wakes the process at hardly more instants either (when
// only the send waited for the lump, its sleeps ended at 1,131 instants, its rate.Limiter's
// timers besides), no bucket's cap is exceeded at the cloud in any second under the jitter,
// and the reads take at most 3% longer than one by one (measured 6.44–6.49 s against
// 6.41–6.47 s; 6.55–6.65 s when only the send waited for the lump, or with a burst of
// ⌊rate·Lump⌋; with burst 1 the tokens that came while requests slept to the lump were
// lost: 6.74–6.82 s).
func TestPlanReadsLeaveInLumpsUnderTheCap(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n = 600
				_, _, _, oneByOne := lumpRun(t, 0, n, seed)
				instants, wakes, arrivals, span := lumpRun(t, PlanLump, n, seed)
				// A read that finds a token (each bucket's first, say) leaves at once.
				lumps := int(span/PlanLump) + 1
				if instants > lumps+4 {
					t.Errorf("%d reads left at %d instants over %s, want at most %d (one a %s, and a few that found a token)", 2*n, instants, span, lumps+4, PlanLump)
				}
				if wakes > lumps+4 {
					t.Errorf("the limiter woke at %d instants over %s, want at most %d (one a %s)", wakes, span, lumps+4, PlanLump)
				}
				for account, a := range arrivals {
					if m := maxPerSecond(a); m > 100 {
						t.Errorf("account %s: %d reads arrived in one second, cap 100", account, m)
					}
				}
				if span > oneByOne*103/100 {
					t.Errorf("%d reads a bucket took %s in lumps, %s one by one: want at most 3%% longer", n, span, oneByOne)
				}
			})
		})
	}
}

// A read that finds a token is not held for the lump: a plan of a few instances is not
// slowed by it.
func TestAReadThatFindsATokenLeavesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(nil, planner.Settings{}, LimiterOptions{Seed: 1, Lump: PlanLump})
		time.Sleep(7 * time.Millisecond) // off the lumps' grid
		for i := range 3 {
			start := time.Now()
			err := l.Do(t.Context(), provider.Request{Kind: "k", Action: "Describe"}, func(context.Context) error {
				if waited := time.Since(start); waited != 0 {
					t.Errorf("read %d left after %s with a token at hand, want at once", i+1, waited)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second) // the bucket (10/s) refills
		}
	})
}

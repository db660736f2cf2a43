package executor

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// A request given up while the window held it back (its context ended while the request
// ⌊cap⌋ before it was in flight, or during the guard's wait) does not free the next request
// of its window place from that one: at a cap of 2/s, a read stamped late in a long round
// trip (500 ms in, 300 ms out), a quick one, a read given up behind the first, then two
// quick reads: no second at the cloud sees more than 2. Freed, the fifth read left 1.01 s
// after the first, on the token alone, and arrived 520 ms after the first one's stamp.
func TestAGivenUpReadKeepsTheWindowOfTheReadBeforeIt(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cancelAt time.Duration // after the first read was sent
	}{
		{"while the read before it is in flight", 0},
		{"during the guard's wait", 900 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := NewLimiter(nil, planner.Settings{QPS: map[string]float64{"k/Describe": 2}}, LimiterOptions{Seed: 1})
				req := provider.Request{Kind: "k", Action: "Describe"}
				var mu sync.Mutex
				var arrivals []fakeCall
				read := func(ctx context.Context, in, out time.Duration) {
					err := l.Do(ctx, req, func(context.Context) error {
						time.Sleep(in)
						mu.Lock()
						arrivals = append(arrivals, fakeCall{at: time.Now()})
						mu.Unlock()
						time.Sleep(out)
						return nil
					})
					if err != nil && ctx.Err() == nil {
						t.Error(err)
					}
				}
				var wg sync.WaitGroup
				start := func(ctx context.Context, in, out time.Duration) {
					wg.Go(func() { read(ctx, in, out) })
					synctest.Wait() // each takes its place in the window in turn
				}
				begin := time.Now()
				start(t.Context(), 500*time.Millisecond, 300*time.Millisecond)
				start(t.Context(), 10*time.Millisecond, 10*time.Millisecond)
				ctx, cancel := context.WithCancel(t.Context())
				start(ctx, 10*time.Millisecond, 10*time.Millisecond)
				time.Sleep(tc.cancelAt - time.Since(begin))
				cancel()
				synctest.Wait()
				start(t.Context(), 10*time.Millisecond, 10*time.Millisecond)
				start(t.Context(), 10*time.Millisecond, 10*time.Millisecond)
				wg.Wait()
				slices.SortFunc(arrivals, func(x, y fakeCall) int { return x.at.Compare(y.at) })
				if len(arrivals) != 4 {
					t.Fatalf("%d reads arrived, want 4 (one given up)", len(arrivals))
				}
				if m := maxPerSecond(arrivals); m > 2 {
					var at []time.Duration
					for _, a := range arrivals {
						at = append(at, a.at.Sub(begin))
					}
					t.Errorf("%d reads arrived in one second, cap 2 (arrivals at %v)", m, at)
				}
			})
		})
	}
}

package executor

import (
	"fmt"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
)

// Steps queued behind a slow bucket's rate cap wait without a goroutine: at parallelism
// 400 and 2 calls a second, a few dozen goroutines follow the 400 ready steps, not 400, and
// the bucket still sends at its cap.
func TestStepsBehindASlowBucketCostNoGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 400
		cloud := newFakeCloud(100*time.Millisecond, fleetOf(n, "x", "1"))
		var steps []planner.Step
		for i := 1; i <= n; i++ {
			steps = append(steps, versionStep("t", fmt.Sprintf("x-%d", i), "1", "2", 0))
		}
		plan := planOf(t, planner.Settings{Parallelism: n}, []planner.Target{{Name: "t", Kind: fakeKind, Region: "r1"}}, steps)
		before := runtime.NumGoroutine()
		done, peakCh := make(chan struct{}), make(chan int)
		go func() {
			peak := 0
			for {
				select {
				case <-done:
					peakCh <- peak
					return
				case <-time.After(500 * time.Millisecond):
					peak = max(peak, runtime.NumGoroutine()-before)
				}
			}
		}()
		start := time.Now()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		close(done)
		peak := <-peakCh
		if err != nil {
			t.Fatal(err)
		}
		if rec.Outcome.ExitCode != ExitOK || rec.Counts[StatusSucceeded] != n {
			t.Fatalf("outcome %+v counts %v", rec.Outcome, rec.Counts)
		}
		if peak > 100 {
			t.Errorf("%d goroutines at the peak for %d ready steps behind a bucket of 2 calls/s; want at most 100", peak, n)
		}
		// n calls at 2/s: 200 s, and one poll interval to see the last done.
		if took := time.Since(start); took > 215*time.Second {
			t.Errorf("the run took %s; the bucket's cap allows about 200 s", took)
		}
	})
}

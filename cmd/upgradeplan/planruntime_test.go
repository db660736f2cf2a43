package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

// plan's limit is the floor for a small live heap and never tighter than the default's own
// goal (twice the live heap) for a large one, so a fleet twice the bench's does not thrash.
func TestPlanMemoryLimitGrowsWithTheLiveHeap(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int64
	}{
		{0, planMemoryFloor},
		{100 << 20, planMemoryFloor},
		{112 << 20, planMemoryFloor},
		{200 << 20, 400 << 20},
		{1 << 30, 2 << 30},
	} {
		if got := planMemoryLimit(tc.live); got != tc.want {
			t.Errorf("live %d MiB: limit %d MiB, want %d MiB", tc.live>>20, got>>20, tc.want>>20)
		}
	}
}

// The operator's GOMAXPROCS, GOGC or GOMEMLIMIT stands; without them plan runs on one P
// and sets its limit, lifted when done.
func TestPlanSetsItsRuntimeUnlessTheEnvironmentDoes(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		tunePlanRuntime(func(k string) string { return map[string]string{env: "200", "GOMAXPROCS": "2"}[k] })()
		if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
			t.Errorf("with %s set, plan changed the limit to %d", env, got)
		}
		if got := runtime.GOMAXPROCS(0); got != 2 {
			t.Errorf("with GOMAXPROCS set, plan changed it to %d", got)
		}
	}
	done := tunePlanRuntime(func(string) string { return "" })
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("plan runs on %d Ps, want 1", got)
	}
	if got := debug.SetMemoryLimit(-1); got < planMemoryFloor {
		t.Errorf("the limit is %d, want at least %d", got, planMemoryFloor)
	}
	done()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("after plan the limit is %d, want it lifted", got)
	}
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("after plan GOMAXPROCS is %d, want 2 again", got)
	}
}

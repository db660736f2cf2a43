package main

import (
	"runtime/debug"
	"testing"
)

func TestGCPercentKeepsTheHeapGoalWithinTheHeadroom(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 400},
		{30 * mb, 400},        // 10,000 instances: five times the live heap
		{gcHeadroom / 5, 400}, // the goal is the headroom exactly
		{gcHeadroom / 4, 300}, // four times
		{gcHeadroom / 3, 200}, // three times
		{100 * mb, 156},       // a 256 MB goal
		{gcHeadroom / 2, 100}, // the default's goal is the headroom
		{250 * mb, 100},       // 100,000 instances: as without the tuning
		{1 << 40, 100},        // never below the default
	} {
		if got := gcPercent(c.live, gcHeadroom); got != c.want {
			t.Errorf("gcPercent(%d MB) = %d, want %d", c.live/mb, got, c.want)
		}
		if p := gcPercent(c.live, gcHeadroom); p > gcMinPercent && c.live*uint64(100+p)/100 > gcHeadroom {
			t.Errorf("gcPercent(%d MB) = %d: heap goal %d MB past the headroom", c.live/mb, p, c.live*uint64(100+p)/100/mb)
		}
	}
}

func TestTheEnvironmentsGOGCStands(t *testing.T) {
	t.Setenv("GOGC", "50")
	prev := debug.SetGCPercent(50)
	defer debug.SetGCPercent(prev)
	stop := tuneGC()
	if got := debug.SetGCPercent(50); got != 50 {
		t.Errorf("with GOGC=50 in the environment, apply set GOGC to %d", got)
	}
	stop()
	if got := debug.SetGCPercent(prev); got != 50 {
		t.Errorf("after apply, GOGC is %d; the environment's 50 should stand", got)
	}
}

func TestTuneGCRaisesGOGCForASmallHeapAndRestoresIt(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	stop := tuneGC()
	if got := debug.SetGCPercent(400); got != 400 {
		t.Errorf("during apply with a test's heap, GOGC = %d, want 400", got)
	}
	stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after apply, GOGC = %d, want the default 100", got)
	}
}

package simtest_test

import (
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

func TestClockStandsStillUntilAdvanced(t *testing.T) {
	start := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	c := simtest.NewClock(start)
	if !c.Now().Equal(start) || !c.Now().Equal(start) {
		t.Fatalf("a new clock reads %v, want %v", c.Now(), start)
	}
	c.Advance(90 * time.Second)
	if want := start.Add(90 * time.Second); !c.Now().Equal(want) {
		t.Errorf("after Advance(90s) the clock reads %v, want %v", c.Now(), want)
	}
}

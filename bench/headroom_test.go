package main

import (
	"strings"
	"testing"
	"time"
)

// The closest approach is the shortest span of cap+1 accepted calls of one bucket: refused
// calls, other accounts and uncapped actions do not count, and a throttling answer is named
// by its bucket.
func TestClosestApproachToACapCountsOnlyOneBucketsAcceptedCalls(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC)
	at := func(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }
	ok := func(acct, product, action string, ms float64) call {
		return call{Time: at(ms), Account: acct, Product: product, Action: action, Status: 200}
	}
	calls := []call{
		ok("ali-a", "alikafka", "UpgradeInstanceVersion", 0),
		ok("ali-a", "alikafka", "UpgradeInstanceVersion", 400),
		// refused: no part of the window
		{Time: at(900), Account: "ali-a", Product: "alikafka", Action: "UpgradeInstanceVersion", Status: 400, Code: "Throttling.User"},
		ok("ali-b", "alikafka", "UpgradeInstanceVersion", 950), // another account
		ok("ali-a", "alikafka", "GetInstanceList", 960),        // uncapped
		ok("ali-a", "alikafka", "UpgradeInstanceVersion", 1003.5),
		ok("ali-a", "alikafka", "UpgradeInstanceVersion", 2001),
	}
	caps := map[string]int{"alikafka/UpgradeInstanceVersion": 2}
	h, found := closestToCap(calls, caps)
	if !found {
		t.Fatal("no approach found for a bucket that sent more than its cap")
	}
	if h.bucket != "ali-a alikafka/UpgradeInstanceVersion" || h.span != 1003500*time.Microsecond {
		t.Errorf("closest approach %s over %s, want ali-a alikafka/UpgradeInstanceVersion over 1.0035s (0 ms to 1003.5 ms)", h.bucket, h.span)
	}
	if got := headroomString(calls, caps); !strings.Contains(got, "3.50 ms above a throttle") {
		t.Errorf("headroom row %q does not say 3.50 ms above a throttle", got)
	}
	if got := throttledBuckets(calls); got != "ali-a alikafka/UpgradeInstanceVersion (mutating) ×1" {
		t.Errorf("throttled buckets %q", got)
	}
	// A call the limiter let through counts even when an injected fault answered it: with
	// a dropped call at 1401.5 ms, 400 ms to 1401.5 ms is the closest approach.
	faulted := []call{
		ok("ali-a", "alikafka", "UpgradeInstanceVersion", 0),
		ok("ali-a", "alikafka", "UpgradeInstanceVersion", 400),
		ok("ali-a", "alikafka", "UpgradeInstanceVersion", 1003.5),
		{Time: at(1401.5), Account: "ali-a", Product: "alikafka", Action: "UpgradeInstanceVersion", Status: 0, Fault: "drop"},
		ok("ali-a", "alikafka", "UpgradeInstanceVersion", 2404),
	}
	if h, _ := closestToCap(faulted, caps); h.span != 1001500*time.Microsecond {
		t.Errorf("closest approach %s with a dropped call at 1401.5 ms, want 1.0015s (400 ms to 1401.5 ms)", h.span)
	}
	if _, found := closestToCap(calls[:2], caps); found {
		t.Error("an approach found where no bucket sent more than its cap")
	}
}

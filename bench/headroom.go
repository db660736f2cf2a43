package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// This file is how close the apply came to each cap at the server, and which buckets
// its throttling answers (if any) came from. The simulator, like the clouds, counts the
// requests it accepted in a sliding second from their arrival, so an action capped at c
// refuses request i+c when it arrives within a second of request i. The closest any
// capped bucket came is the shortest span of c+1 accepted calls in a row: over 1,000 ms
// always (the simulator refuses the rest), and the few milliseconds above it are the
// margin by which the executor's window guard missed a throttle. Shown, not held: a
// throttling answer is held by its own row.

// simCapsOf is the simulator's caps for a mix: its documented defaults, and the state
// file's qps (gen.go) where the mix scales them.
func simCapsOf(m mix) map[string]int {
	caps := sim.DefaultQPS()
	if m.qpsFactor > 1 {
		for k, action := range simCaps {
			caps[action] = int(settingsCaps[k] * m.qpsFactor)
		}
	}
	return caps
}

// headroom is the closest approach to a cap: span is the time from accepted call i to
// accepted call i+cap of bucket (account product/Action), the shortest of the run.
type headroom struct {
	bucket string
	cap    int
	span   time.Duration
}

// closestToCap returns the bucket whose cap+1 accepted calls in a row came closest to
// fitting in one second (ok false when no capped bucket made more than cap calls).
func closestToCap(calls []call, caps map[string]int) (h headroom, ok bool) {
	type bucket struct{ account, action string }
	accepted := map[bucket][]time.Time{}
	for _, c := range calls {
		b := bucket{c.Account, c.Product + "/" + c.Action}
		// The window holds every call its limiter let through, those that then met an
		// injected fault (a 5xx, a drop, an injected throttle) included.
		refused := c.throttled() && c.Fault != string(sim.FaultThrottle)
		if caps[b.action] <= 0 || refused {
			continue
		}
		accepted[b] = append(accepted[b], c.Time)
	}
	for b, times := range accepted {
		n, key := caps[b.action], b.account+" "+b.action
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		for i := 0; i+n < len(times); i++ {
			span := times[i+n].Sub(times[i])
			if !ok || span < h.span || (span == h.span && key < h.bucket) {
				h, ok = headroom{bucket: key, cap: n, span: span}, true
			}
		}
	}
	return h, ok
}

// headroomString is the headroom row's value.
func headroomString(calls []call, caps map[string]int) string {
	h, ok := closestToCap(calls, caps)
	if !ok {
		return "no capped bucket sent more than its cap"
	}
	return fmt.Sprintf("%.2f ms for %d accepted calls of %s (cap %d/s): %.2f ms above a throttle",
		float64(h.span)/1e6, h.cap+1, h.bucket, h.cap, float64(h.span-time.Second)/1e6)
}

// throttledBuckets names the buckets of the throttling answers, "" when there were none:
// "ali-a alikafka/UpgradeInstanceVersion (mutating) ×1".
func throttledBuckets(calls []call) string {
	n := map[string]int{}
	for _, c := range calls {
		if !c.throttled() {
			continue
		}
		key := c.Account + " " + c.Product + "/" + c.Action
		if c.mutating() {
			key += " (mutating)"
		}
		n[key]++
	}
	var parts []string
	for _, k := range sortedKeys(n) {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, n[k]))
	}
	return strings.Join(parts, ", ")
}

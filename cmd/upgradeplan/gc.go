package main

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The garbage collector's pace during apply. With the runtime's default (GOGC=100) the
// collector runs each time the heap doubles its live part. An apply's live heap is small
// beside what it allocates (the SDKs' requests and decoded answers, journal lines: about
// 110 KB per step, 30–50 MB live at 10,000 instances), so at the default the collector
// took about a tenth of apply's CPU (a profile of bench's ideal profile). apply lets the
// heap grow to five times its live part (GOGC=400) while that stays within gcHeadroom,
// and less as the live heap grows, down to the default once the live heap reaches half
// of gcHeadroom: a large fleet, whose live heap is past that, collects as it did at the
// default (within the same memory), and a small one trades at most gcHeadroom of memory
// for the collector's CPU. GOGC or GOMEMLIMIT in the environment turn the tuning off:
// the operator's choice stands.

// gcHeadroom bounds the heap goal the tuning allows (live heap plus garbage).
const gcHeadroom = 256 << 20

// gcMaxPercent is the largest GOGC the tuning sets; gcMinPercent the runtime's default.
const (
	gcMaxPercent = 400
	gcMinPercent = 100
)

// gcPercent is the GOGC for a live heap of live bytes: the largest up to gcMaxPercent
// whose heap goal, live·(1+GOGC/100), stays within headroom, and never below the default.
func gcPercent(live, headroom uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	p := int((headroom*100)/live) - 100
	return max(gcMinPercent, min(gcMaxPercent, p))
}

// tuneGC keeps GOGC at gcPercent of the live heap, looked at every second, until the
// returned func is called (which restores the default). It does nothing when the
// environment sets GOGC or GOMEMLIMIT.
func tuneGC() func() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	set := -1
	stop := watchLiveHeap(func(live uint64) {
		if p := gcPercent(live, gcHeadroom); p != set {
			set = p
			debug.SetGCPercent(p)
		}
	})
	return func() {
		stop()
		debug.SetGCPercent(gcMinPercent)
	}
}

// watchLiveHeap calls f with the live heap's size (the runtime's last count) at once and
// then every second, from one goroutine, until the returned func is called; that func
// returns once f no longer runs.
func watchLiveHeap(f func(live uint64)) (stop func()) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	live := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	f(live())
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f(live())
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

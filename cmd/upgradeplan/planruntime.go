package main

import (
	"runtime"
	"runtime/debug"
)

// plan's runtime: one P, and a soft memory limit.
//
// One P (runtime.GOMAXPROCS(1)) unless the environment sets GOMAXPROCS: plan waits on the
// clouds' rate caps, not on CPU (at 100,000 instances about 57 s of wall for some 10 s of
// CPU, the wall bound by MongoDB's 10,000 kernel reads at their cap). With a second P the
// runtime wakes another thread for nearly every answer and parks it again: on the bench's
// 100,000 instances, one pair back to back took 13.7 s of CPU with two Ps and 10.4 s with
// one, at the same wall, and in the profiles the scheduler's share (runtime.schedule,
// futex) fell from about 2.1 s to 0.9 s. What one P costs is wall time where plan is
// bound by CPU alone: its diffs and the file, about a second at 100,000.
//
// The memory: a soft memory limit (runtime/debug.SetMemoryLimit) of the larger of
// planMemoryFloor and twice the live heap, looked at every second.
//
// Why: plan's live heap is the plan being built plus the listings in flight, about 100 MB
// at 100,000 instances, but at the runtime's default (GOGC=100) the heap may grow to twice
// what was live at the last collection, and a collection that fell while two Redis
// listings were being decoded let the peak RSS land anywhere from 231 to 313 MB (the target
// is 300 MB). The limit cuts those spikes: the collector runs sooner only while the heap is
// near it. It is never tighter than the default's own goal at the live heap last seen
// (twice it), so a larger fleet collects as it does at the default instead of thrashing
// against a fixed number; only between two looks can a growing live heap meet the limit,
// and then the runtime caps the collector at about half the CPU. GOGC or GOMEMLIMIT in the
// environment turn it off: the operator's choice stands.
const planMemoryFloor = 224 << 20

// planMemoryLimit is the limit for a live heap of live bytes.
func planMemoryLimit(live uint64) int64 { return max(planMemoryFloor, 2*int64(live)) }

// tunePlanRuntime sets one P unless getenv names GOMAXPROCS, and keeps the memory limit at
// planMemoryLimit of the live heap unless getenv names GOGC or GOMEMLIMIT, until the
// returned func is called (which restores both).
func tunePlanRuntime(getenv func(string) string) func() {
	procs := runtime.GOMAXPROCS(0)
	if getenv("GOMAXPROCS") == "" {
		procs = runtime.GOMAXPROCS(1)
	}
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return func() { runtime.GOMAXPROCS(procs) }
	}
	prev := debug.SetMemoryLimit(-1)
	stop := watchLiveHeap(func(live uint64) { debug.SetMemoryLimit(planMemoryLimit(live)) })
	return func() {
		stop()
		debug.SetMemoryLimit(prev)
		runtime.GOMAXPROCS(procs)
	}
}

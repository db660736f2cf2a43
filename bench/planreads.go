package main

import (
	"fmt"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/mongodb"
	"github.com/upgradeplan/upgradeplan/provider/products"
)

// Plan's read calls follow two rules, and the bench holds each to its own target:
//
//   - bulk reads (list pages, MongoDB's release notes, Compute Nest's GetServiceInstance
//     once per service and version): a fixed budget (≤ 200 in ideal), whatever the
//     instance count within it;
//   - DescribeDBInstanceAttribute: the current DescribeDBInstances has no
//     CurrentKernelVersion and only the attribute call returns it, so plan reads it once
//     per MongoDB instance a kernel target selects (none for a standalone instance, which
//     is refused before, or for one whose list entry carries the kernel):
//     exactly one per selected MongoDB instance, no more.
//
// The kernel reads bound plan's wall time: each account's bucket of them runs at its cap
// (settings.qps, or the executor's 10/s where dds documents none), so plan takes at least
// the largest account's reads / cap. planWallBound is that bound; the plan's wall over it
// shows how much time is ours (the pages before them, the diff, the file).

// kernelRead reports whether c is plan's per-instance kernel read.
func (c call) kernelRead() bool {
	return c.Product == "dds" && c.Action == mongodb.ActionAttribute
}

// kernelReads counts plan's kernel reads, in all and by account.
func kernelReads(calls []call) (n int, byAccount map[string]int) {
	byAccount = map[string]int{}
	for _, c := range calls {
		if c.kernelRead() && !c.throttled() {
			n++
			byAccount[c.Account]++
		}
	}
	return n, byAccount
}

// planWallBound is the largest account's kernel reads over its DescribeDBInstanceAttribute
// cap (see above).
func planWallBound(r result) time.Duration {
	lim := executor.NewLimiter(products.Registry(), r.plan.plan.Settings, executor.LimiterOptions{Seed: 1})
	rate := lim.Rate(mongodb.Kind + "/" + mongodb.ActionAttribute)
	_, byAccount := kernelReads(r.plan.calls)
	var bound time.Duration
	for _, n := range byAccount {
		bound = max(bound, time.Duration(float64(n)/rate*float64(time.Second)))
	}
	return bound
}

// planReadRows are the table's rows of plan's reads and wall time.
func planReadRows(r result, add func(metric, value, target string, ok *bool)) {
	b := func(v bool) *bool { return &v }
	p := r.profile
	if p.planReads > 0 {
		add(planReadsLabel, fmt.Sprint(r.planReads), fmt.Sprintf("≤ %d", p.planReads), b(r.planReads <= p.planReads))
	} else {
		add(planReadsLabel, fmt.Sprint(r.planReads), "", nil)
	}
	mongo := r.byKind[mongodb.Kind]
	add(kernelReadsLabel, fmt.Sprint(r.planKernelReads), fmt.Sprintf("= %d (one per MongoDB instance)", mongo),
		b(r.planKernelReads == mongo))
	bound := planWallBound(r)
	wall := fmt.Sprintf("%s / %s", secs(r.plan.child.wall), mb(r.plan.fileSize))
	if bound > 0 {
		wall = fmt.Sprintf("%s (%.2f× the kernel reads at their cap, %s) / %s",
			secs(r.plan.child.wall), r.plan.child.wall.Seconds()/bound.Seconds(), secs(bound), mb(r.plan.fileSize))
	}
	add("plan wall time / plan file", wall, "", nil)
}

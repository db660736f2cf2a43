package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider/products"
)

// Targets (docs/design.md, "Targets that the benchmarks and tests hold"). Never loosen them.
const (
	maxRatio         = 1.1
	maxCPUPerStep    = 200 * time.Microsecond
	planReadsLabel   = "bulk read calls during plan (lists, release notes, Compute Nest versions)"
	kernelReadsLabel = "kernel reads during plan (DescribeDBInstanceAttribute)"
)

// result is one profile run: its numbers and the rows of its table.
type result struct {
	profile   profile
	instances int
	byKind    map[string]int
	steps     int
	outcome   string
	counts    map[executor.Status]int
	plan      planned
	apply     child
	makespan  time.Duration
	bound     bound
	wall      time.Duration // the whole profile: plan + apply + reading the logs

	planReads, planDryRuns, planMutating int
	planKernelReads                      int // DescribeDBInstanceAttribute (planreads.go)
	applyCalls, mutating, polls          int
	throttles, planThrottles             int
	faults                               int // calls that met an injected error or drop
	appliedTotal, appliedOff             int // appliedOff: planned instances with more or fewer applied changes than planned
	appliedDropped, appliedExtra         int

	rows      []row
	kindPolls []kindPolls // lag.go

	throttledIn, headroom string // headroom.go: the throttled buckets, the closest approach to a cap
}

type row struct {
	metric, value, target string
	ok                    *bool
}

func (r result) missed() []string {
	var out []string
	for _, x := range r.rows {
		if x.ok != nil && !*x.ok {
			out = append(out, x.metric)
		}
	}
	return out
}

// bound is the lower bound of the apply's makespan and what sets it.
type bound struct {
	total       time.Duration
	what        string
	buckets     []bucketBound
	parallelism time.Duration
	chain       time.Duration
	sumD        time.Duration
}

type bucketBound struct {
	key          string // account kind/Action
	calls        int
	rate         float64
	dMin, dMax   time.Duration
	bound        time.Duration
	lastReleased time.Duration
	forced       bool // a bucket of reads the API forces per step (forcedReads), not of mutating calls
}

// forcedReads are the reads an API forces per step, by kind: MongoDB's verdict before the
// call and its confirmation after it both need CurrentKernelVersion, which only
// DescribeDBInstanceAttribute shows, one instance per call (DescribeDBInstances lacks it).
// Those reads share that action's cap, so an account's n MongoDB steps cost at least 2n
// of its calls at that cap whatever the executor does: a floor of the makespan like the
// caps of mutating calls.
var forcedReads = map[string]struct {
	action  string
	perStep int
}{
	"alibaba.mongodb": {"DescribeDBInstanceAttribute", 2},
}

// forcedConfirmations is how many of apply's polls the APIs force after the calls: one
// confirmation read per step of a kind in forcedReads (the judgement read is the other).
func forcedConfirmations(plan *planner.Plan) int {
	n := 0
	for _, s := range plan.Steps {
		if _, ok := forcedReads[s.Kind]; ok {
			n++
		}
	}
	return n
}

// stepDurations is each step's least time in a slot, in wall time: its upgrade duration
// as the simulator draws it (sim.SpreadDuration with the profile's seed and spread: the
// n-th planned change of an instance is its n-th upgrade) scaled by the time scale, plus
// the profile's fastest request (the call must reach the cloud and an answer showing the
// end must come back: at least one whole request's latency between them).
func stepDurations(p profile, plan *planner.Plan) []time.Duration {
	out := make([]time.Duration, len(plan.Steps))
	seen := map[string]int{}
	for i, s := range plan.Steps {
		key := stateKeyOf[s.Kind]
		d := durations[key]
		if p.spread > 0 {
			n := seen[key+"/"+s.Instance]
			seen[key+"/"+s.Instance] = n + 1
			d = sim.SpreadDuration(p.seed, key, s.Instance, n, d, p.spread)
		}
		out[i] = time.Duration(float64(d)/p.timeScale) + p.latMin
	}
	return out
}

// lowerBound computes the makespan no scheduler can beat, from the plan, the rate caps the
// executor must respect (documented caps, 10/s where undocumented, settings.qps) and each
// step's duration D (stepDurations):
//
//   - release time r(s): the earliest a step can be sent, following its dependencies with
//     no wait at all: r(s) = max over what it waits for (depends_on, lower canary waves of
//     its target, every step of the targets its target depends on) of r(d) + D(d).
//   - chain bound: max over steps of r(s) + D(s).
//   - bucket bound, per (account, mutating action) with n calls at cap c, releases sorted
//     r_0 ≤ … ≤ r_{n−1}: the call sent p-th cannot leave before L_p = max_{j≤p} (r_j +
//     (p − j)/c) (of the first p+1 sent, at most j were released before r_j). The last k
//     sent all leave at L_{n−k} or later and one of them takes at least the k-th shortest
//     D of the bucket, so bucket = max_k (L_{n−k} + D_(k)). With equal D this is
//     max_j (r_j + (n − 1 − j)/c) + D.
//   - parallelism bound: Σ D(s) / parallelism (and per target Σ D / maxConcurrent).
//   - forced-read bound, per (account, read action) of forcedReads with m = perStep × steps
//     reads at cap c: (m − 1)/c + the fastest request. The reads leave at least 1/c apart
//     from the start, and the last one's answer (a confirmation) ends a step; release
//     times are left out, so it is a floor that never overstates.
//
// The bound is the largest of these.
func lowerBound(p profile, plan *planner.Plan) bound {
	reg := products.Registry()
	lim := executor.NewLimiter(reg, plan.Settings, executor.LimiterOptions{Seed: 1})
	dur := stepDurations(p, plan)
	byID := map[string]int{}
	for i, s := range plan.Steps {
		byID[s.ID] = i
	}
	targets := map[string]planner.Target{}
	for _, t := range plan.Targets {
		targets[t.Name] = t
	}
	rel := make([]time.Duration, len(plan.Steps))
	fin := func(i int) time.Duration { return rel[i] + dur[i] }
	// Relax until stable: the plan is a DAG, so this converges within its depth.
	for changed := true; changed; {
		changed = false
		waveEnd := map[string]map[int]time.Duration{} // target → wave → latest finish
		targetEnd := map[string]time.Duration{}
		for i, s := range plan.Steps {
			if waveEnd[s.Target] == nil {
				waveEnd[s.Target] = map[int]time.Duration{}
			}
			waveEnd[s.Target][s.Wave] = max(waveEnd[s.Target][s.Wave], fin(i))
			targetEnd[s.Target] = max(targetEnd[s.Target], fin(i))
		}
		for i, s := range plan.Steps {
			r := time.Duration(0)
			for _, d := range s.DependsOn {
				r = max(r, fin(byID[d]))
			}
			for w, end := range waveEnd[s.Target] {
				if w < s.Wave {
					r = max(r, end)
				}
			}
			for _, dt := range targets[s.Target].DependsOn {
				r = max(r, targetEnd[dt])
			}
			if r > rel[i] {
				rel[i] = r
				changed = true
			}
		}
	}
	var b bound
	type bucket struct {
		rel, d []time.Duration
	}
	buckets := map[string]*bucket{}
	perTarget := map[string]time.Duration{}
	for i, s := range plan.Steps {
		b.chain = max(b.chain, fin(i))
		b.sumD += dur[i]
		perTarget[s.Target] += dur[i]
		key := s.Account + " " + s.Kind + "/" + s.Action
		if buckets[key] == nil {
			buckets[key] = &bucket{}
		}
		buckets[key].rel = append(buckets[key].rel, rel[i])
		buckets[key].d = append(buckets[key].d, dur[i])
	}
	b.parallelism = b.sumD / time.Duration(max(1, plan.Settings.Parallelism))
	for name, sum := range perTarget {
		if mc := targets[name].MaxConcurrent; mc > 0 {
			b.parallelism = max(b.parallelism, sum/time.Duration(mc))
		}
	}
	for key, bk := range buckets {
		sort.Slice(bk.rel, func(i, j int) bool { return bk.rel[i] < bk.rel[j] })
		sort.Slice(bk.d, func(i, j int) bool { return bk.d[i] < bk.d[j] })
		_, kindAction, _ := strings.Cut(key, " ")
		rate := lim.Rate(kindAction)
		gap := time.Duration(float64(time.Second) / rate)
		n := len(bk.rel)
		leave := make([]time.Duration, n) // L_p
		for p, r := range bk.rel {
			leave[p] = r
			if p > 0 {
				leave[p] = max(r, leave[p-1]+gap)
			}
		}
		bb := bucketBound{key: key, calls: n, rate: rate, dMin: bk.d[0], dMax: bk.d[n-1], lastReleased: bk.rel[n-1]}
		for k := 1; k <= n; k++ {
			bb.bound = max(bb.bound, leave[n-k]+bk.d[k-1])
		}
		b.buckets = append(b.buckets, bb)
	}
	b.buckets = append(b.buckets, forcedBounds(p, plan, lim)...)
	sort.Slice(b.buckets, func(i, j int) bool {
		if b.buckets[i].bound != b.buckets[j].bound {
			return b.buckets[i].bound > b.buckets[j].bound
		}
		return b.buckets[i].key < b.buckets[j].key
	})
	b.total, b.what = b.chain, "longest dependency chain"
	if b.parallelism > b.total {
		b.total, b.what = b.parallelism, "parallelism"
	}
	if len(b.buckets) > 0 && b.buckets[0].bound > b.total {
		b.total, b.what = b.buckets[0].bound, "rate cap of "+b.buckets[0].key
		if b.buckets[0].forced {
			b.total, b.what = b.buckets[0].bound, "forced reads of "+b.buckets[0].key
		}
	}
	return b
}

// forcedBounds is a bucket row per (account, read action) of forcedReads (see lowerBound).
func forcedBounds(p profile, plan *planner.Plan, lim *executor.Limiter) []bucketBound {
	reads := map[string]int{}
	for _, s := range plan.Steps {
		if f, ok := forcedReads[s.Kind]; ok {
			reads[s.Account+" "+s.Kind+"/"+f.action] += f.perStep
		}
	}
	var out []bucketBound
	for _, key := range sortedKeys(reads) {
		_, kindAction, _ := strings.Cut(key, " ")
		rate := lim.Rate(kindAction)
		m := reads[key]
		bound := time.Duration(float64(m-1)/rate*float64(time.Second)) + p.latMin
		out = append(out, bucketBound{key: key, calls: m, rate: rate, bound: bound, forced: true})
	}
	return out
}

func measure(p profile, w workload, pl planned, ap appliedRun) result {
	r := result{profile: p, instances: w.instances, byKind: w.byKind, steps: len(pl.plan.Steps), outcome: ap.rec.Outcome.Result,
		counts: ap.rec.Counts, plan: pl, apply: ap.child, bound: lowerBound(p, pl.plan)}
	for _, c := range pl.calls {
		switch {
		case c.throttled():
			r.planThrottles++
		case c.dryRun():
			r.planDryRuns++
		case c.mutating():
			r.planMutating++
		case c.kernelRead():
			r.planKernelReads++
		default:
			r.planReads++
		}
	}
	r.makespan = ap.rec.FinishedAt.Sub(ap.rec.StartedAt)
	r.applyCalls = len(ap.calls)
	for _, c := range ap.calls {
		if c.throttled() {
			r.throttles++
		}
		if c.mutating() {
			r.mutating++
		}
		if c.Fault != "" && c.Fault != "latency" && c.Fault != "lag" {
			r.faults++
		}
	}
	r = appliedCheck(r, pl.plan, ap.applied)
	for _, b := range ap.rec.Buckets {
		r.polls += b.Polls
	}
	r.throttledIn, r.headroom = throttledBuckets(ap.calls), headroomString(ap.calls, simCapsOf(p.mix))
	r.rows = r.table()
	r.kindPolls = pollBreakdown(p, pl.plan, ap.calls, ap.applied, ap.rec)
	return r
}

// appliedCheck sets r's applied-record fields: the simulator's applied changes made by
// the tool (not by actors) per planned change, per instance.
func appliedCheck(r result, plan *planner.Plan, app []applied) result {
	r.appliedTotal, r.appliedDropped, r.appliedExtra = 0, 0, 0
	planned := map[string]int{}
	for _, s := range plan.Steps {
		planned[productOf(s.Kind)+"/"+s.Instance]++
	}
	got := map[string]int{}
	for _, a := range app {
		if a.Actor != "" {
			continue
		}
		got[a.Product+"/"+a.Instance]++
		r.appliedTotal++
		if a.Dropped {
			r.appliedDropped++
		}
		if planned[a.Product+"/"+a.Instance] == 0 {
			r.appliedExtra++
		}
	}
	r.appliedOff = 0
	for inst, n := range planned {
		if got[inst] != n {
			r.appliedOff++
		}
	}
	return r
}

func (r result) appliedOK() bool {
	return r.appliedOff == 0 && r.appliedTotal == r.steps && r.appliedExtra == 0
}

func productOf(kind string) string {
	switch kind {
	case "alibaba.kafka":
		return "alikafka"
	case "alibaba.mongodb":
		return "dds"
	case "alibaba.rabbitmq":
		return "amqp-open"
	case "alibaba.computenest":
		return "computenestsupplier"
	}
	return "redis"
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func (r result) table() []row {
	var rows []row
	add := func(metric, value, target string, ok *bool) { rows = append(rows, row{metric, value, target, ok}) }
	b := func(v bool) *bool { return &v }
	p := r.profile
	add("instances (steps planned)", fmt.Sprintf("%d (%d)", r.instances, r.steps), "", nil)
	planReadRows(r, add)
	add("DryRun preflights during plan", fmt.Sprint(r.planDryRuns), "one per Compute Nest change", nil)
	if p.planCPU > 0 {
		add("plan CPU (user+sys)", secs(r.plan.child.cpu), "< "+secs(p.planCPU), b(r.plan.child.cpu < p.planCPU))
		add("plan peak RSS", mb(r.plan.child.maxRSS), "< "+mb(p.planRSS), b(r.plan.child.maxRSS < p.planRSS && r.plan.child.maxRSS > 0))
	} else {
		add("plan CPU (user+sys)", secs(r.plan.child.cpu), "", nil)
		add("plan peak RSS", mb(r.plan.child.maxRSS), "", nil)
	}
	ratio := r.makespan.Seconds() / r.bound.total.Seconds()
	add("apply makespan (run.json)", secs(r.makespan), "", nil)
	add("lower bound ("+r.bound.what+")", secs(r.bound.total), "", nil)
	add("makespan / bound", fmt.Sprintf("%.3f", ratio), fmt.Sprintf("≤ %.2f", maxRatio), b(ratio <= maxRatio))
	add("apply outcome", fmt.Sprintf("%s (%s)", r.outcome, countsString(r.counts)), "succeeded", b(r.outcome == "succeeded"))
	add("applied changes per planned change (/_sim/applied)", appliedString(r), "exactly 1",
		b(r.appliedOK()))
	add("mutating calls (apply)", fmt.Sprintf("%d for %d changes; %d calls met an injected error or drop", r.mutating, r.steps, r.faults), "", nil)
	throttles := fmt.Sprintf("%d + %d", r.planThrottles, r.throttles)
	if r.throttledIn != "" {
		throttles += "; apply: " + r.throttledIn
	}
	add("throttling answers (plan + apply)", throttles, "0", b(r.planThrottles+r.throttles == 0))
	add("closest approach to a cap at the server (apply; headroom.go)", r.headroom, "shown, not held", nil)
	share := float64(r.polls) / float64(max(1, r.applyCalls))
	add("polling share of apply calls (every observing call)", fmt.Sprintf("%.2f%% (%d of %d)", 100*share, r.polls, r.applyCalls),
		fmt.Sprintf("≤ %g%% (held to this row: the issue counts every poll)", 100*p.maxPolling), b(share <= p.maxPolling))
	confirm := min(r.polls, forcedConfirmations(r.plan.plan))
	add("polling share without the forced confirmation read per MongoDB step",
		fmt.Sprintf("%.2f%% (%d of %d; %d confirmations left out)", 100*float64(r.polls-confirm)/float64(max(1, r.applyCalls)), r.polls-confirm, r.applyCalls, confirm),
		"shown, not held", nil)
	perStep := time.Duration(0)
	if r.steps > 0 {
		perStep = r.apply.cpu / time.Duration(r.steps)
	}
	add("apply CPU per step", fmt.Sprintf("%.3f ms (%s for %d steps)", float64(perStep)/1e6, secs(r.apply.cpu), r.steps), "≤ 0.2 ms", b(perStep <= maxCPUPerStep))
	add("apply peak RSS", mb(r.apply.maxRSS), "", nil)
	return rows
}

func appliedString(r result) string {
	s := fmt.Sprintf("%d applied / %d planned", r.appliedTotal, r.steps)
	if r.appliedOff == 0 {
		s += ", every instance exactly its planned changes"
	} else {
		s += fmt.Sprintf(", %d instances with more or fewer than planned", r.appliedOff)
	}
	if r.appliedDropped > 0 {
		s += fmt.Sprintf(", %d with the answer lost", r.appliedDropped)
	}
	if r.appliedExtra > 0 {
		s += fmt.Sprintf(", %d on unplanned instances", r.appliedExtra)
	}
	return s
}

func countsString(m map[executor.Status]int) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v > 0 {
			keys = append(keys, fmt.Sprintf("%s %d", k, v))
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

func kindCounts(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

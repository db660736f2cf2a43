package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider/products"
)

// Targets (DESIGN.md, "Targets that the benchmarks and tests hold"). Never loosen them.
const (
	maxReadCalls    = 200
	maxPlanCPU      = 2 * time.Second
	maxPlanRSS      = 200 << 20
	maxRatio        = 1.1
	maxPollingShare = 0.05
)

// result is everything the table shows.
type result struct {
	instances int
	byKind    map[string]int
	steps     int
	outcome   string
	counts    map[executor.Status]int

	planReads, planDryRuns, planMutating int
	plan, apply                          child

	makespan time.Duration
	bound    bound

	applyCalls, mutating, polls, applyReads int
	throttles                               int
	perChangeMin, perChangeMax              int
	mutatingRefused                         int
}

// bound is the lower bound of the apply's makespan and what sets it.
type bound struct {
	total       time.Duration
	what        string
	buckets     []bucketBound
	parallelism time.Duration
	chain       time.Duration
}

type bucketBound struct {
	key   string // account kind/Action
	calls int
	rate  float64
	d     time.Duration
	bound time.Duration
}

// durationOf is a kind's simulated upgrade duration in wall time.
func durationOf(kind string) time.Duration {
	return time.Duration(float64(durations[stateKeyOf[kind]]) / timeScale)
}

// lowerBound computes the makespan no scheduler can beat, from the plan, the rate caps the
// executor must respect (documented caps, 10/s where undocumented, settings.qps) and the
// simulated durations D:
//
//   - release time r(s): the earliest a step can be sent, following its dependencies with
//     no wait at all: r(s) = max over what it waits for (depends_on, lower canary waves of
//     its target, every step of the targets its target depends on) of r(d) + D(d).
//   - chain bound: max over steps of r(s) + D(s).
//   - bucket bound, per (account, mutating action) with n calls at cap c, releases sorted
//     r1 ≤ … ≤ rn: the last call cannot be sent before max_j (r_j + (n − j)/c), and it
//     then takes D: bucket = max_j (r_j + (n − j)/c) + D.
//   - parallelism bound: Σ D(s) / parallelism (and per target Σ D / maxConcurrent).
//
// The bound is the largest of these.
func lowerBound(p *planner.Plan) bound {
	reg := products.Registry()
	lim := executor.NewLimiter(reg, p.Settings, executor.LimiterOptions{Seed: 1})
	byID := map[string]int{}
	for i, s := range p.Steps {
		byID[s.ID] = i
	}
	targets := map[string]planner.Target{}
	for _, t := range p.Targets {
		targets[t.Name] = t
	}
	rel := make([]time.Duration, len(p.Steps))
	fin := func(i int) time.Duration { return rel[i] + durationOf(p.Steps[i].Kind) }
	// Relax until stable: the plan is a DAG, so this converges within its depth.
	for changed := true; changed; {
		changed = false
		waveEnd := map[string]map[int]time.Duration{} // target → wave → latest finish
		targetEnd := map[string]time.Duration{}
		for i, s := range p.Steps {
			if waveEnd[s.Target] == nil {
				waveEnd[s.Target] = map[int]time.Duration{}
			}
			waveEnd[s.Target][s.Wave] = max(waveEnd[s.Target][s.Wave], fin(i))
			targetEnd[s.Target] = max(targetEnd[s.Target], fin(i))
		}
		for i, s := range p.Steps {
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
		rel []time.Duration
		d   time.Duration
		key string
	}
	buckets := map[string]*bucket{}
	var sumD time.Duration
	perTarget := map[string]time.Duration{}
	for i, s := range p.Steps {
		b.chain = max(b.chain, fin(i))
		d := durationOf(s.Kind)
		sumD += d
		perTarget[s.Target] += d
		key := s.Account + " " + s.Kind + "/" + s.Action
		if buckets[key] == nil {
			buckets[key] = &bucket{d: d, key: key}
		}
		buckets[key].rel = append(buckets[key].rel, rel[i])
	}
	b.parallelism = sumD / time.Duration(max(1, p.Settings.Parallelism))
	for name, sum := range perTarget {
		if mc := targets[name].MaxConcurrent; mc > 0 {
			b.parallelism = max(b.parallelism, sum/time.Duration(mc))
		}
	}
	for _, bk := range buckets {
		sort.Slice(bk.rel, func(i, j int) bool { return bk.rel[i] < bk.rel[j] })
		_, kindAction, _ := strings.Cut(bk.key, " ")
		rate := lim.Rate(kindAction)
		n := len(bk.rel)
		last := time.Duration(0)
		for j, r := range bk.rel {
			last = max(last, r+time.Duration(float64(n-1-j)/rate*float64(time.Second)))
		}
		b.buckets = append(b.buckets, bucketBound{key: bk.key, calls: n, rate: rate, d: bk.d, bound: last + bk.d})
	}
	sort.Slice(b.buckets, func(i, j int) bool { return b.buckets[i].bound > b.buckets[j].bound })
	b.total, b.what = b.chain, "longest dependency chain"
	if b.parallelism > b.total {
		b.total, b.what = b.parallelism, "parallelism"
	}
	if len(b.buckets) > 0 && b.buckets[0].bound > b.total {
		b.total, b.what = b.buckets[0].bound, "rate cap of "+b.buckets[0].key
	}
	return b
}

func measure(w workload, p *planner.Plan, rec *executor.Record, pc, ac child, planCalls, applyCalls []call) result {
	r := result{instances: w.instances, byKind: w.byKind, steps: len(p.Steps), outcome: rec.Outcome.Result,
		counts: rec.Counts, plan: pc, apply: ac, bound: lowerBound(p)}
	for _, c := range planCalls {
		switch {
		case c.throttled():
			r.throttles++
		case c.dryRun():
			r.planDryRuns++
		case c.mutating():
			r.planMutating++
		default:
			r.planReads++
		}
	}
	r.makespan = rec.FinishedAt.Sub(rec.StartedAt)
	r.applyCalls = len(applyCalls)
	perInstance := map[string]int{}
	for _, c := range applyCalls {
		if c.throttled() {
			r.throttles++
		}
		if c.mutating() {
			r.mutating++
			if c.Code != "" {
				r.mutatingRefused++
			}
			perInstance[c.Product+"/"+c.Instance]++
		}
	}
	steps := map[string]int{}
	for _, s := range p.Steps {
		steps[productOf(s.Kind)+"/"+s.Instance]++
	}
	r.perChangeMin, r.perChangeMax = -1, 0
	for inst, n := range steps {
		per := perInstance[inst] / n // integer: 1 when every change got exactly one call
		if perInstance[inst]%n != 0 {
			per = -1
		}
		if r.perChangeMin < 0 || per < r.perChangeMin {
			r.perChangeMin = per
		}
		r.perChangeMax = max(r.perChangeMax, per)
	}
	for _, b := range rec.Buckets {
		r.polls += b.Polls
	}
	r.applyReads = r.applyCalls - r.mutating
	return r
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

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func (r result) table() string {
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	row := func(metric, value, target string, ok *bool) {
		v := ""
		if ok != nil {
			v = verdict(*ok)
		}
		fmt.Fprintf(tw, "| %s\t| %s\t| %s\t| %s\t|\n", metric, value, target, v)
	}
	b := func(v bool) *bool { return &v }
	fmt.Fprintf(tw, "| metric\t| value\t| target\t| \t|\n|---\t|---\t|---\t|---\t|\n")
	row("instances (steps planned)", fmt.Sprintf("%d (%d)", r.instances, r.steps), "10,000", b(r.instances == 10000))
	row("read calls during plan", fmt.Sprint(r.planReads), fmt.Sprintf("≤ %d", maxReadCalls), b(r.planReads <= maxReadCalls))
	row("DryRun preflights during plan", fmt.Sprint(r.planDryRuns), "one per Compute Nest change", nil)
	row("plan CPU (user+sys)", secs(r.plan.cpu), "< 2 s", b(r.plan.cpu < maxPlanCPU))
	row("plan peak RSS", fmt.Sprintf("%.1f MB", float64(r.plan.maxRSS)/(1<<20)), "< 200 MB", b(r.plan.maxRSS < maxPlanRSS && r.plan.maxRSS > 0))
	row("plan wall time", secs(r.plan.wall), "", nil)
	ratio := r.makespan.Seconds() / r.bound.total.Seconds()
	row("apply makespan (run.json)", secs(r.makespan), "", nil)
	row("lower bound ("+r.bound.what+")", secs(r.bound.total), "", nil)
	row("makespan / bound", fmt.Sprintf("%.3f", ratio), "≤ 1.1", b(ratio <= maxRatio))
	row("apply outcome", fmt.Sprintf("%s (%s)", r.outcome, countsString(r.counts)), "succeeded", b(r.outcome == "succeeded"))
	row("mutating calls per change", perChange(r), "exactly 1", b(r.perChangeMin == 1 && r.perChangeMax == 1 && r.mutating == r.steps))
	row("throttling answers (plan + apply)", fmt.Sprint(r.throttles), "0", b(r.throttles == 0))
	share := float64(r.polls) / float64(max(1, r.applyCalls))
	row("polling share of apply calls", fmt.Sprintf("%.2f%% (%d of %d)", 100*share, r.polls, r.applyCalls), "≤ 5%", b(share <= maxPollingShare))
	row("apply CPU / peak RSS", fmt.Sprintf("%s / %.1f MB", secs(r.apply.cpu), float64(r.apply.maxRSS)/(1<<20)), "", nil)
	tw.Flush()
	return sb.String()
}

func perChange(r result) string {
	s := fmt.Sprintf("%d calls / %d changes", r.mutating, r.steps)
	if r.perChangeMin == r.perChangeMax {
		s += fmt.Sprintf(", every instance %d per change", r.perChangeMin)
	} else {
		s += fmt.Sprintf(", per instance %d to %d", r.perChangeMin, r.perChangeMax)
	}
	if r.mutatingRefused > 0 {
		s += fmt.Sprintf(", %d refused", r.mutatingRefused)
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
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// machine describes where the numbers came from.
func machine() string {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	gover := runtime.Version()
	if out, err := exec.Command("go", "version").Output(); err == nil {
		gover = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("- CPU: %s, nproc %d\n- memory: %s\n- Go: %s\n- OS: %s/%s\n", model, runtime.NumCPU(), mem, gover, runtime.GOOS, runtime.GOARCH)
}

func (r result) markdown(table string) string {
	var sb strings.Builder
	sb.WriteString("# `make bench` results\n\n")
	fmt.Fprintf(&sb, "Measured %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	sb.WriteString(machine())
	sb.WriteString("\n")
	sb.WriteString(table)
	sb.WriteString("\n## Lower bound, per bucket of mutating calls\n\n")
	sb.WriteString("| bucket (account kind/Action) | calls | cap | D | bound |\n|---|---|---|---|---|\n")
	for _, b := range r.bound.buckets {
		fmt.Fprintf(&sb, "| %s | %d | %g/s | %s | %s |\n", b.key, b.calls, b.rate, secs(b.d), secs(b.bound))
	}
	fmt.Fprintf(&sb, "\nLongest dependency chain: %s. Parallelism bound (Σ D / %d): %s.\n", secs(r.bound.chain), parallelism, secs(r.bound.parallelism))
	sb.WriteString(notes)
	return sb.String()
}

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/products"
)

// The baseline: what users would pick instead of upgradeplan, a Terraform-style executor
// over the same provider packages. It is part of the bench, not the product. It does what
// `terraform apply` does with a provider of these clouds:
//
//   - refresh: one describe per resource in state (every instance of every target), an
//     Observe with a single watch per call, 10 workers;
//   - apply: the resources that change, 10 workers, walking the target dependsOn graph; per
//     resource its changes in order, each one call followed by a synchronous wait that
//     polls that one instance (an Observe of its single watch) every 5 simulated seconds
//     (StateChangeConf's usual Delay/MinTimeout) until it is done;
//   - retry on throttle with exponential backoff (full jitter, 0.5 s doubling to 16 s),
//     reads also on 5xx and lost answers; a mutating call that fails otherwise fails its
//     resource, as the providers' Create/Update return the error. No canary waves, no
//     shared rate buckets, no ClientToken.

const (
	baselineWorkers = 10
	baselinePoll    = 5 * time.Second // simulated
	baselineTimeout = 2 * time.Hour   // simulated, per change
)

// baselineResult is what the baseline did.
type baselineResult struct {
	resources, changes, failed int
	failures                   []string
	makespan, refresh          time.Duration
	calls, throttles, polls    int
}

// baselineDoer retries as Terraform providers do and counts throttles.
type baselineDoer struct {
	throttles atomic.Int64
	mu        sync.Mutex
	rng       *rand.Rand
}

func (d *baselineDoer) Do(ctx context.Context, req provider.Request, send func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		err := send(ctx)
		if err == nil || ctx.Err() != nil {
			return err
		}
		class := provider.ClassOf(err)
		if class == provider.ClassThrottled {
			d.throttles.Add(1)
		}
		retry := class == provider.ClassThrottled ||
			(!req.Mutating && (class == provider.ClassRetryable || class == provider.ClassUnknown))
		if !retry || attempt >= 20 {
			return err
		}
		ceil := min(16*time.Second, 500*time.Millisecond<<min(attempt, 10))
		d.mu.Lock()
		wait := time.Duration(d.rng.Int64N(int64(ceil)) + 1)
		d.mu.Unlock()
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// terraform runs the baseline on a plan against the simulator at addr.
func terraform(ctx context.Context, plan *planner.Plan, addr string, timeScale float64) (baselineResult, error) {
	var res baselineResult
	doer := &baselineDoer{rng: rand.New(rand.NewPCG(1, 2))}
	vars := map[string]string{"UPGRADEPLAN_ALIBABA_ENDPOINT": addr, "UPGRADEPLAN_TENCENT_ENDPOINT": addr}
	for _, kv := range env() {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	getenv := func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	reg := products.Registry()
	var provMu sync.Mutex
	provs := map[string]provider.Provider{}
	open := func(kind, acct, region string) (provider.Provider, error) {
		key := kind + "|" + acct + "|" + region
		provMu.Lock()
		defer provMu.Unlock()
		if p, ok := provs[key]; ok {
			return p, nil
		}
		a := plan.Accounts[acct]
		a.Name = acct
		p, err := reg.Open(kind, provider.Config{Region: region, Account: a, Doer: doer, Getenv: getenv})
		if err != nil {
			return nil, err
		}
		provs[key] = p
		return p, nil
	}
	scaled := func(d time.Duration) time.Duration { return time.Duration(float64(d) / timeScale) }
	var polls atomic.Int64
	var failMu sync.Mutex
	fail := func(what string) {
		failMu.Lock()
		defer failMu.Unlock()
		res.failed++
		if len(res.failures) < 5 {
			res.failures = append(res.failures, what)
		}
	}

	start := time.Now()
	// Refresh: one describe per resource.
	type ref struct{ kind, acct, region, id string }
	var refs []ref
	for _, t := range plan.Targets {
		for _, id := range t.Instances {
			refs = append(refs, ref{t.Kind, t.Account, t.Region, id})
		}
	}
	work := make(chan ref)
	var wg sync.WaitGroup
	for range baselineWorkers {
		wg.Go(func() {
			for r := range work {
				p, err := open(r.kind, r.acct, r.region)
				if err == nil {
					_, err = p.Observe(ctx, []provider.Watch{{Instance: r.id}})
				}
				if err != nil {
					fail("refresh " + r.id + ": " + err.Error())
				}
			}
		})
	}
	for _, r := range refs {
		work <- r
	}
	close(work)
	wg.Wait()
	res.refresh = time.Since(start)

	// Apply: resources (instances with changes) in plan order, gated by target dependsOn.
	type resource struct {
		target string
		steps  []planner.Step
	}
	var order []*resource
	byInst := map[string]*resource{}
	left := map[string]int{} // target → resources not finished
	for _, s := range plan.Steps {
		key := s.Kind + "/" + s.Instance
		r := byInst[key]
		if r == nil {
			r = &resource{target: s.Target}
			byInst[key] = r
			order = append(order, r)
			left[s.Target]++
		}
		r.steps = append(r.steps, s)
		res.changes++
	}
	res.resources = len(order)
	deps := map[string][]string{}
	for _, t := range plan.Targets {
		deps[t.Name] = t.DependsOn
	}
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	next := func() *resource { // the first resource whose target's dependencies are done
		mu.Lock()
		defer mu.Unlock()
		for {
			if len(order) == 0 {
				return nil
			}
			for i, r := range order {
				ready := true
				for _, d := range deps[r.target] {
					ready = ready && left[d] == 0
				}
				if ready {
					order = append(order[:i], order[i+1:]...)
					return r
				}
			}
			cond.Wait()
		}
	}
	done := func(r *resource) {
		mu.Lock()
		left[r.target]--
		mu.Unlock()
		cond.Broadcast()
	}
	for range baselineWorkers {
		wg.Go(func() {
			for r := next(); r != nil; r = next() {
				for _, s := range r.steps {
					if msg := applyAndWait(ctx, open, s, scaled, &polls); msg != "" {
						fail(msg)
						break
					}
				}
				done(r)
			}
		})
	}
	wg.Wait()
	res.makespan = time.Since(start)
	res.throttles = int(doer.throttles.Load())
	res.polls = int(polls.Load())
	return res, nil
}

// applyAndWait sends one change and polls its instance until it is done; it returns why
// it failed, "" when it did not.
func applyAndWait(ctx context.Context, open func(kind, acct, region string) (provider.Provider, error), s planner.Step,
	scaled func(time.Duration) time.Duration, polls *atomic.Int64) string {
	p, err := open(s.Kind, s.Account, s.Region)
	if err != nil {
		return s.ID + ": " + err.Error()
	}
	if _, err := p.Apply(ctx, provider.Call{Instance: s.Instance, Action: s.Action, Params: s.Params}); err != nil {
		return s.ID + ": " + err.Error()
	}
	since := time.Now()
	deadline := since.Add(scaled(baselineTimeout))
	w := provider.Watch{Instance: s.Instance, Action: s.Action, From: s.From, To: s.To, Started: true, Since: since}
	for time.Now().Before(deadline) {
		if err := sleepCtx(ctx, scaled(baselinePoll)); err != nil {
			return s.ID + ": " + err.Error()
		}
		polls.Add(1)
		ps, err := p.Observe(ctx, []provider.Watch{w})
		if err != nil {
			return s.ID + ": " + err.Error()
		}
		switch ps[0].State {
		case provider.StateDone:
			return ""
		case provider.StateFailed, provider.StateMissing:
			return s.ID + ": " + string(ps[0].State) + " " + ps[0].Message
		}
	}
	return s.ID + ": timed out"
}

// comparison is upgradeplan and the baseline on the same realistic workload.
type comparison struct {
	ours     result
	base     baselineResult
	wall     time.Duration
	profile  profile
	baseline result // the applied-record check of the baseline run
}

// runComparison plans the realistic workload at baselineSize instances once, then applies
// it with upgradeplan and with the baseline, each against a fresh simulator with the same
// state and faults.
func runComparison(ctx context.Context, bin string, keep bool) (comparison, error) {
	real, err := findProfile("realistic")
	if err != nil {
		return comparison{}, err
	}
	size := baselineSize
	if trySize > 0 {
		size = trySize
	}
	p := real.atSize(size)
	p.name = "baseline"
	start := time.Now()
	ours, _, err := runProfile(ctx, bin, p, keep, nil)
	if err != nil {
		return comparison{}, err
	}
	cmp := comparison{ours: ours, profile: p}
	w := generate(p.mix)
	dir, err := os.MkdirTemp("", "upgradeplan-bench-terraform-")
	if err != nil {
		return cmp, err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	f, err := writeFiles(dir, w, p)
	if err != nil {
		return cmp, err
	}
	sim, err := startSim(bin, f.state, f.faults, p.timeScale)
	if err != nil {
		return cmp, err
	}
	defer sim.stop()
	fmt.Fprintf(os.Stderr, "bench: baseline: Terraform-style executor on the same %d instances\n", w.instances)
	cmp.base, err = terraform(ctx, ours.plan.plan, sim.addr, p.timeScale)
	if err != nil {
		return cmp, err
	}
	calls, err := fetch[call](sim.addr, "/_sim/calls")
	if err != nil {
		return cmp, err
	}
	cmp.base.calls = len(calls)
	app, err := fetch[applied](sim.addr, "/_sim/applied")
	if err != nil {
		return cmp, err
	}
	cmp.baseline = appliedCheck(result{steps: ours.steps}, ours.plan.plan, app)
	cmp.wall = time.Since(start)
	return cmp, nil
}

package executor

// This file is the scheduler: dependencies (chains, canary waves, target dependsOn), the
// parallelism and maxConcurrent slots, the per-bucket gates, and the "ready" counts that
// tell the pollers which steps are awaited.

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// acquire takes, for a step whose call is in flight from an earlier segment, its target
// slot (maxConcurrent) and its global slot (parallelism); for a step about to send, only
// its place in its bucket's gate: its slots are taken by acquireSlots right before the call
// leaves (in the send guard, after its rate-limit token), so that a step never holds a slot
// while it waits for its lease, its look or its token. A step whose call is not in flight
// gives up when the run stops. waited says whether it queued.
func (r *run) acquire(ctx context.Context, s *stepState, inFlight bool) (ok, waited bool) {
	if inFlight {
		return r.acquireSlots(ctx, s, nil)
	}
	r.mu.Lock()
	needGate := !s.gateHeld
	r.mu.Unlock()
	if needGate {
		r.sizeGate(s)
		got, w := r.gates[s.bucket].acquire(ctx, s, r.stopCh)
		if !got {
			return false, w
		}
		waited = w
		r.mu.Lock()
		s.gateHeld = true
		r.mu.Unlock()
	}
	if _, stopped := r.stopped(); stopped {
		r.releaseGate(s)
		return false, waited
	}
	return true, waited
}

// acquireSlots takes what the step does not hold yet of its target slot (maxConcurrent)
// and its global slot (parallelism), each handed to the waiter whose work bounds the
// makespan (slots.go). It gives up, holding neither, when ctx ends or stop (nil: never)
// closes.
func (r *run) acquireSlots(ctx context.Context, s *stepState, stop <-chan struct{}) (ok, waited bool) {
	r.mu.Lock()
	held := s.slotHeld
	r.mu.Unlock()
	if held {
		return true, false
	}
	sem := r.targetSem[s.step.Target]
	if sem != nil {
		got, w := sem.acquire(ctx, s, stop)
		waited = waited || w
		if !got {
			return false, waited
		}
	}
	got, w := r.global.acquire(ctx, s, stop)
	waited = waited || w
	if !got {
		if sem != nil {
			sem.release()
		}
		return false, waited
	}
	r.mu.Lock()
	s.slotHeld = true
	r.mu.Unlock()
	return true, waited
}

func (r *run) releaseGate(s *stepState) {
	r.mu.Lock()
	held := s.gateHeld
	s.gateHeld = false
	r.mu.Unlock()
	if held {
		r.gates[s.bucket].release()
	}
}

func (r *run) releaseTarget(s *stepState) {
	if sem := r.targetSem[s.step.Target]; sem != nil {
		sem.release()
	}
}

// releaseSlots gives back the step's global and target slots, if it holds them.
func (r *run) releaseSlots(s *stepState) {
	r.mu.Lock()
	held := s.slotHeld
	s.slotHeld = false
	r.mu.Unlock()
	if held {
		r.global.release()
		r.releaseTarget(s)
	}
}

// markReady counts a step whose dependencies are met in its bucket's ready steps.
func (r *run) markReady(s *stepState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !s.readyHeld {
		s.readyHeld = true
		r.ready[s.bucket].Add(1)
	}
}

// unready takes the step out of its bucket's ready steps (its call was answered, it waits
// for a busy instance, or it ended without a call) and gives back its gate place. When the
// bucket has no ready step left, its steps in flight are awaited: the pollers are told to
// look at their timing again.
func (r *run) unready(s *stepState) {
	r.releaseGate(s)
	r.mu.Lock()
	held := s.readyHeld
	s.readyHeld = false
	r.mu.Unlock()
	if held && r.ready[s.bucket].Add(-1) == 0 {
		r.pokeObservers()
	}
}

func (r *run) pokeObservers() {
	for _, o := range r.observers {
		o.poke()
	}
}

// awaited says whether something may be held up until s is seen done, and how much lag
// it can take: a step waiting for a parallelism slot (global, or its target's) takes
// none; s's bucket having no other step ready to send (its rate idle until s's successors
// can start, or its work ending) takes s's slack (slackOf): the end of a bucket whose work
// ends long before the run's does, or whose successors wait on nothing the run's end
// waits for, can be seen late at no cost.
func (r *run) awaited(s *stepState) (bool, time.Duration) {
	if r.global.waiting() > 0 {
		return true, 0
	}
	if sem := r.targetSem[s.step.Target]; sem != nil && sem.waiting() > 0 {
		return true, 0
	}
	if r.ready[s.bucket].Load() == 0 || s.spec.ReadPerWatch {
		// A ReadPerWatch kind's confirmation is a read of the bucket its verdicts need
		// too: put off, the reads pile up at the end of its work.
		return true, max(0, r.slackOf(s, time.Now()))
	}
	return false, 0
}

// buildSteps makes a stepState per plan step and links dependencies, chains and buckets.
func (r *run) buildSteps() error {
	plan, opts := r.plan, r.opts
	wakeOnWait := func(n int) {
		if n == 1 {
			r.pokeObservers()
		}
	}
	r.global.onWaiting = wakeOnWait
	targets := map[string]*planner.Target{}
	for i := range plan.Targets {
		t := &plan.Targets[i]
		targets[t.Name] = t
		if t.MaxConcurrent > 0 {
			r.targetSem[t.Name] = newSlots(t.MaxConcurrent, r.slotScore)
			r.targetSem[t.Name].onWaiting = wakeOnWait
		}
	}
	byID := map[string]*stepState{}
	byTarget := map[string][]*stepState{}
	bucketIndex := map[string]int{}
	// One bucket name and one spec per (account, kind, action) and kind, shared by the
	// steps (a string and a 112-byte spec a step were 16 MB at 100,000 steps).
	type bucketOf struct{ account, kind, action string }
	bucketNames := map[bucketOf]string{}
	specs := map[string]*provider.Spec{}
	maxAttempts := opts.Retry.withDefaults().Attempts
	for i := range plan.Steps {
		st := &plan.Steps[i]
		if _, dup := byID[st.ID]; dup {
			return fmt.Errorf("plan: step %s appears twice", st.ID)
		}
		spec, ok := specs[st.Kind]
		if !ok {
			one, known := opts.Registry[st.Kind]
			if !known {
				return fmt.Errorf("plan: step %s: unknown kind %q", st.ID, st.Kind)
			}
			spec = &one
			specs[st.Kind] = spec
		}
		bucket, ok := bucketNames[bucketOf{st.Account, st.Kind, st.Action}]
		if !ok {
			bucket = st.Account + "\x00" + st.Kind + "/" + st.Action
			bucketNames[bucketOf{st.Account, st.Kind, st.Action}] = bucket
		}
		r.rec.Steps[i] = StepRecord{
			ID: st.ID, Target: st.Target, Kind: st.Kind, Region: st.Region, Account: st.Account,
			Instance: st.Instance, Action: st.Action, Wave: st.Wave, DependsOn: st.DependsOn,
			Notes: st.Notes, Status: StatusPending, From: st.From, To: st.To,
		}
		if spec.IdempotencyToken {
			r.rec.Steps[i].ClientToken = ClientToken(plan, st.ID)
		}
		s := &stepState{step: st, rec: &r.rec.Steps[i], done: make(chan struct{}), spec: spec, pos: i,
			group: groupKey{st.Kind, st.Account, st.Region}, bucket: bucket,
			m: machine{Phase: PhasePending}}
		s.cfg = machineConfig{Timeout: r.timeout, Grace: r.grace(*spec), MaxAttempts: maxAttempts,
			InPlace: inPlace(st.From, st.To), ChainTo: st.To, DryRun: opts.DryRun, APIDryRun: spec.DryRun,
			Traceless: spec.FailureLeavesNoTrace, Deferred: spec.Deferred != nil && spec.Deferred(st.To)}
		s.cfg.MaxGap = r.maxWatchGap(*spec, s.cfg.InPlace)
		if r.ready[s.bucket] == nil {
			r.ready[s.bucket] = &atomic.Int64{}
			r.gates[s.bucket] = newSlots(max(1, int(math.Ceil(r.limiter.Rate(st.Kind+"/"+st.Action)))), nil)
			bucketIndex[s.bucket] = len(r.buckets)
			r.buckets = append(r.buckets, etaBucket{account: st.Account, action: st.Kind + "/" + st.Action})
		}
		s.bi = bucketIndex[s.bucket]
		if r.estimates[st.Kind+"/"+st.Action] == nil {
			r.estimates[st.Kind+"/"+st.Action] = &estimate{}
		}
		r.buckets[s.bi].est = r.estimates[st.Kind+"/"+st.Action]
		r.steps = append(r.steps, s)
		byID[st.ID] = s
		byTarget[st.Target] = append(byTarget[st.Target], s)
	}
	if err := r.linkSteps(byID, byTarget, targets); err != nil {
		return err
	}
	r.unsentNow = make([]atomic.Int64, len(r.buckets))
	r.acceptedNow = make([]atomic.Int64, len(r.buckets))
	r.lastSinceNow = make([]atomic.Int64, len(r.buckets))
	r.bucketRate = make([]float64, len(r.buckets))
	r.bucketShortest = make([]float64, len(r.buckets))
	for i, b := range r.buckets {
		r.bucketRate[i] = r.limiter.Rate(b.action)
	}
	r.bucketReadRate = make([]float64, len(r.buckets))
	for _, s := range r.steps {
		r.bucketShortest[s.bi] = shortestOf(*s.spec).Seconds()
		r.bucketReadRate[s.bi] = r.readRateOf(*s.spec)
	}
	r.rankSteps()
	r.rankAfter()
	// A chain's steps learn what the instance shows once the whole chain is done. Steps
	// whose to and rest of chain are the same maps (a plan file read back shares equal
	// values) share the merged map too: read only, one per distinct chain.
	merged := map[[2]unsafe.Pointer]provider.Values{}
	for i := len(r.steps) - 1; i >= 0; i-- {
		s := r.steps[i]
		if s.next != nil {
			key := [2]unsafe.Pointer{reflect.ValueOf(s.step.To).UnsafePointer(), reflect.ValueOf(s.next.cfg.ChainTo).UnsafePointer()}
			m, ok := merged[key]
			if !ok {
				m = mergeValues(s.step.To, s.next.cfg.ChainTo)
				merged[key] = m
			}
			s.cfg.ChainTo = m
		}
	}
	return nil
}

// inPlace reports whether a change shows nothing its `from` does not: every field `to`
// shares with `from` keeps its value (a restart in place, such as Kafka's latestMinor).
func inPlace(from, to provider.Values) bool {
	shared := 0
	for k, v := range from {
		w, ok := to[k]
		if !ok {
			continue
		}
		shared++
		if !provider.SameValue(v, w) {
			return false
		}
	}
	return shared > 0
}

func mergeValues(a, b provider.Values) provider.Values {
	out := provider.Values{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// slotScore is how much a waiter of bucket c bounds the makespan, in seconds: the bucket's
// remaining rate-limited time (its unsent calls at its rate, and for a kind whose verdicts
// cost a read each its remaining reads at the read cap), plus the waiter's remaining chain,
// plus the rate-limited work of the targets that wait for its target (after, afterwork.go).
// The rank counts each step of the chain as its product's ShortestOperation; once the
// bucket's action has a duration estimate (the shortest seen from call to done), the rank
// is scaled by estimate / ShortestOperation, so the terms are in the seconds this run sees
// (a simulator at 600x, where a chain of two 1-minute steps lasts 4 s, no longer outranks
// a kafka bucket with 15 s of calls left; a real cloud, where they last 40 minutes, still
// does). Without the reads and the dependents' work, MongoDB (bounded by its kernel reads)
// and the RabbitMQ targets that wait for it lost every slot to Redis in the realistic
// bench, and RabbitMQ ran alone at the end.
func (r *run) slotScore(c int, w *waiter) float64 {
	rank := w.rank
	if c < len(r.buckets) && c < len(r.bucketShortest) && r.bucketShortest[c] > 0 {
		if d, ok := r.buckets[c].est.get(); ok {
			rank *= d.Seconds() / r.bucketShortest[c]
		}
	}
	return r.remaining(c) + rank + w.after
}

// remaining is the rate-limited time left in bucket c, in seconds (bucketWork of its
// unsent and accepted steps).
func (r *run) remaining(c int) float64 {
	if c >= len(r.unsentNow) {
		return 0
	}
	return r.bucketWork(c, r.unsentNow[c].Load(), r.acceptedNow[c].Load())
}

// shortestOf is the product's ShortestOperation, the unit of the ranks.
func shortestOf(spec provider.Spec) time.Duration {
	if spec.ShortestOperation > 0 {
		return spec.ShortestOperation
	}
	return provider.DefaultShortestOperation
}

// rankSteps sets every step's rank: the longest chain of work from it to the end of the
// plan (its own upgrade, then whatever waits for it: the next step on the instance, later
// waves, dependent targets), in seconds of each product's ShortestOperation.
func (r *run) rankSteps() {
	const unknown = -1
	unknowns := func(n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = unknown
		}
		return out
	}
	tail, btail := unknowns(len(r.steps)), unknowns(len(r.barriers))
	var stepTail func(s *stepState) float64
	var barrierTail func(b *barrier) float64
	barrierTail = func(b *barrier) float64 {
		if btail[b.idx] != unknown {
			return btail[b.idx]
		}
		btail[b.idx] = 0
		best := 0.0
		for _, w := range b.waiters {
			best = max(best, stepTail(w))
		}
		if b.next != nil {
			best = max(best, barrierTail(b.next))
		}
		btail[b.idx] = best
		return best
	}
	stepTail = func(s *stepState) float64 {
		if tail[s.pos] != unknown {
			return tail[s.pos]
		}
		tail[s.pos] = 0
		best := 0.0
		for _, d := range s.dependents {
			best = max(best, stepTail(d))
		}
		if s.member != nil {
			best = max(best, barrierTail(s.member))
		}
		tail[s.pos] = shortestOf(*s.spec).Seconds() + best
		return tail[s.pos]
	}
	for _, s := range r.steps {
		s.rank = stepTail(s)
	}
}

package executor

// This file is the scheduler: dependencies (chains, canary waves, target dependsOn), the
// parallelism and maxConcurrent slots, the per-bucket gates, and the "ready" counts that
// tell the pollers which steps are awaited.

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync/atomic"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// linkSteps expands the plan's dependencies into step edges and finds chains.
func (r *run) linkSteps(byID map[string]*stepState, byTarget map[string][]*stepState, targets map[string]*planner.Target) error {
	for _, s := range r.steps {
		seen := map[*stepState]bool{}
		add := func(d *stepState, k depKind) {
			if d != s && !seen[d] {
				seen[d] = true
				s.deps = append(s.deps, dep{d, k})
			}
		}
		for _, id := range s.step.DependsOn {
			d, ok := byID[id]
			if !ok {
				return fmt.Errorf("plan: step %s depends on unknown step %s", s.step.ID, id)
			}
			add(d, depStep)
			if d.step.Instance == s.step.Instance && d.step.Kind == s.step.Kind && d.step.Region == s.step.Region {
				s.prev = d
				if d.next == nil {
					d.next = s
				}
			}
		}
		if t := targets[s.step.Target]; t != nil {
			for _, tn := range t.DependsOn {
				for _, d := range byTarget[tn] {
					add(d, depTarget)
				}
			}
		}
		for _, d := range byTarget[s.step.Target] {
			if d.step.Wave < s.step.Wave {
				add(d, depWave)
			}
		}
	}
	if cyc := findCycle(r.steps); cyc != "" {
		return fmt.Errorf("plan: steps depend on each other in a cycle: %s", cyc)
	}
	return nil
}

// depVerdict says whether a step can start after its dependencies finished.
func (r *run) depVerdict(s *stepState) (Status, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var notRun string
	for _, d := range s.deps {
		st := d.s.rec.Status
		what := d.s.step.ID
		switch d.kind {
		case depTarget:
			what = "target " + d.s.step.Target + " (step " + d.s.step.ID + ")"
		case depWave:
			what = fmt.Sprintf("wave %d of target %s (step %s)", d.s.step.Wave, d.s.step.Target, d.s.step.ID)
		}
		switch st {
		case StatusSucceeded, StatusNoop:
		case StatusFailed, StatusSkipped:
			return StatusSkipped, "depends on " + what + ", which " + pastTense(st)
		case StatusDrifted:
			// A drifted dependency was not applied: what this step was planned after did not
			// happen, so it is skipped like after a failure; re-plan to go on.
			return StatusSkipped, "depends on " + what + ", which drifted and was not applied"
		default:
			if notRun == "" {
				notRun = "depends on " + what + ", which did not run (" + string(st) + ")"
			}
		}
	}
	if notRun != "" {
		return StatusNotStarted, notRun
	}
	return "", ""
}

func pastTense(st Status) string {
	if st == StatusFailed {
		return "failed"
	}
	return "was skipped"
}

// acquire takes what the step does not hold yet of: its target slot (maxConcurrent), a
// place in its bucket's gate (not for a step whose call was already sent) and a global slot
// (parallelism). All three hand free places out in plan order. A step whose call is not in
// flight gives up when the run stops. waited says whether it queued for any of them.
func (r *run) acquire(ctx context.Context, s *stepState, inFlight bool) (ok, waited bool) {
	var stop <-chan struct{}
	if !inFlight {
		stop = r.stopCh
	}
	r.mu.Lock()
	needGate, needSlot := !inFlight && !s.gateHeld, !s.slotHeld
	r.mu.Unlock()
	if needSlot {
		if sem := r.targetSem[s.step.Target]; sem != nil {
			got, w := sem.acquire(ctx, s.pos, stop)
			waited = waited || w
			if !got {
				return false, waited
			}
		}
	}
	if needGate {
		got, w := r.gates[s.bucket].acquire(ctx, s.pos, stop)
		waited = waited || w
		if !got {
			if needSlot {
				r.releaseTarget(s)
			}
			return false, waited
		}
		r.mu.Lock()
		s.gateHeld = true
		r.mu.Unlock()
	}
	if needSlot {
		got, w := r.global.acquire(ctx, s.pos, stop)
		waited = waited || w
		if !got {
			r.releaseGate(s)
			r.releaseTarget(s)
			return false, waited
		}
		r.mu.Lock()
		s.slotHeld = true
		r.mu.Unlock()
	}
	if _, stopped := r.stopped(); stopped && !inFlight {
		r.releaseGate(s)
		r.releaseSlots(s)
		return false, waited
	}
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

// awaited says whether something is held up until s is seen done: a step waiting for a
// parallelism slot (global, or its target's), or s's bucket having no other step ready to
// send, so that its rate is idle until s's successors can start.
func (r *run) awaited(s *stepState) bool {
	if r.global.waiting() > 0 || r.ready[s.bucket].Load() == 0 {
		return true
	}
	if sem := r.targetSem[s.step.Target]; sem != nil && sem.waiting() > 0 {
		return true
	}
	return false
}

// findCycle returns a dependency cycle among the steps ("a → b → a"), or "".
func findCycle(steps []*stepState) string {
	const (
		white = iota
		grey
		black
	)
	color := map[*stepState]int{}
	var stack []*stepState
	var found string
	var visit func(s *stepState) bool
	visit = func(s *stepState) bool {
		color[s] = grey
		stack = append(stack, s)
		for _, d := range s.deps {
			switch color[d.s] {
			case grey:
				var ids []string
				start := 0
				for i, x := range stack {
					if x == d.s {
						start = i
					}
				}
				for _, x := range stack[start:] {
					ids = append(ids, x.step.ID)
				}
				found = strings.Join(append(ids, d.s.step.ID), " → ")
				return true
			case white:
				if visit(d.s) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[s] = black
		return false
	}
	for _, s := range steps {
		if color[s] == white && visit(s) {
			return found
		}
	}
	return ""
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
			r.targetSem[t.Name] = newSlots(t.MaxConcurrent)
			r.targetSem[t.Name].onWaiting = wakeOnWait
		}
	}
	byID := map[string]*stepState{}
	byTarget := map[string][]*stepState{}
	bucketIndex := map[string]int{}
	maxAttempts := opts.Retry.withDefaults().Attempts
	for i := range plan.Steps {
		st := &plan.Steps[i]
		if _, dup := byID[st.ID]; dup {
			return fmt.Errorf("plan: step %s appears twice", st.ID)
		}
		spec, ok := opts.Registry[st.Kind]
		if !ok {
			return fmt.Errorf("plan: step %s: unknown kind %q", st.ID, st.Kind)
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
			group: groupKey{st.Kind, st.Account, st.Region}, bucket: st.Account + "\x00" + st.Kind + "/" + st.Action,
			m: machine{Phase: PhasePending}}
		s.cfg = machineConfig{Timeout: r.timeout, Grace: r.grace(spec), MaxAttempts: maxAttempts,
			InPlace: inPlace(st.From, st.To), ChainTo: st.To, DryRun: opts.DryRun, APIDryRun: spec.DryRun,
			Traceless: spec.FailureLeavesNoTrace}
		s.cfg.MaxGap = r.maxWatchGap(spec, s.cfg.InPlace)
		if r.ready[s.bucket] == nil {
			r.ready[s.bucket] = &atomic.Int64{}
			r.gates[s.bucket] = newSlots(max(1, int(math.Ceil(r.limiter.Rate(st.Kind+"/"+st.Action)))))
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
	// A chain's steps learn what the instance shows once the whole chain is done.
	for i := len(r.steps) - 1; i >= 0; i-- {
		s := r.steps[i]
		if s.next != nil {
			s.cfg.ChainTo = mergeValues(s.step.To, s.next.cfg.ChainTo)
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

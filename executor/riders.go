package executor

import (
	"math"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// maxRiders is the least bound on the watches a poll carries for steps about to start or
// waiting for their rate-limit tokens; a group whose bucket sends faster carries what it
// sends in half the look bound (ridersOf).
const maxRiders = 50

// ridersOf is how many riders a poll of group carries: what the fastest bucket of mutating
// calls among its steps sends in half the look bound (a rider's verdict is taken again
// once older than that), at least maxRiders. A fixed 50 held a list-polled kind to 50
// sends per poll: at 100,000 instances RabbitMQ's bucket sends 100/s while each poll
// pages up to 25 ListInstances at their 10/s, so its sends ran at about 20/s and it became
// the run's end (146 s of 149).
func (r *run) ridersOf(group []*stepState) int {
	rate := 0.0
	for _, s := range group {
		if s.bi < len(r.bucketRate) {
			rate = max(rate, r.bucketRate[s.bi])
		}
	}
	if math.IsInf(rate, 0) || math.IsNaN(rate) {
		return maxRiders
	}
	return max(maxRiders, int(math.Ceil(rate*r.lookFreshness().Seconds()/2)))
}

// judgedAt is when the observation the step was last judged on was made.
func (s *stepState) judgedAt() time.Time {
	ns := s.judgedNs.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func (s *stepState) setJudged(t time.Time) { s.judgedNs.Store(t.UnixNano()) }

// lastVerdict is when the newest verdict a token waiter's send guard would use was taken:
// its own look, or a poll's answer kept for it (run.mu held).
func (s *stepState) lastVerdict() time.Time {
	t := s.judgedAt()
	if v := s.sendVerdict; v != nil && v.at.After(t) {
		t = v.at
	}
	return t
}

// riders returns the watches of the group's steps that may be sent soon (up to ridersOf)
// and a function
// that keeps the poll's answers as their verdicts: first the steps waiting for their
// rate-limit tokens or, token taken, for their slots (their verdicts are checked in the
// send guard, see DefaultLookFreshness and judgeAndTakeSlot), then the steps about to
// start (dependencies done, at or past their bucket's gate, or waiting for the window), in
// both cases only those whose last verdict is older than half the bound, lowest plan index
// first. A step
// chained after one in flight rides in that step's own check instead (followInfo.next).
//
// Where a verdict costs a read of its own (provider.Spec.ReadPerWatch: MongoDB's kernel),
// a rider is a call, not a free line of a page: nothing rides. A step may wait for its
// token and slot longer than the bound, and a verdict it then cannot use is a read thrown
// away (the realistic bench read each MongoDB kernel up to five times before its call);
// such a step takes its slot first and then the one look its call needs.
func (r *run) riders(k groupKey) func() ([]provider.Watch, func([]provider.Progress)) {
	var group []*stepState
	for _, s := range r.steps {
		if s.group == k {
			group = append(group, s)
		}
	}
	perWatch := len(group) > 0 && group[0].spec.ReadPerWatch
	first := 0 // steps before it have all left PhasePending for good
	limit := 0 // ridersOf(group), once the buckets' rates are known (the first poll)
	return func() ([]provider.Watch, func([]provider.Progress)) {
		if limit == 0 {
			limit = r.ridersOf(group)
		}
		tokens := r.observers[k].tokenWaiters(limit)
		fresh := time.Now().Add(-r.lookFreshness() / 2)
		r.mu.Lock()
		var ws []provider.Watch
		var who []*stepState
		for _, s := range tokens {
			if perWatch {
				break // each takes its one look once it holds its slot (judgeAndTakeSlot)
			}
			if !s.tokenWait.Load() {
				continue
			}
			if s.lastVerdict().After(fresh) {
				continue // judged a moment ago: still fresh at its token or slot
			}
			ws = append(ws, s.watch(false))
			who = append(who, s)
		}
		for first < len(group) && group[first].m.Phase != PhasePending && group[first].m.Phase != PhaseWaiting {
			first++
		}
		for _, s := range group[first:] {
			if len(who) == limit || perWatch {
				break
			}
			// Only a step about to start (its dependencies done, queued at its bucket's
			// gate or past it, or waiting for the window) rides, and not again while its
			// last verdict is fresh. Its watch is a line of a page the poll reads anyway:
			// a look per gate place instead (riding only past the gate) doubled the ideal
			// bench's polls.
			if s.m.Phase == PhasePending && s.readyHeld && (s.preJudged == nil || s.preJudged.at.Before(fresh)) {
				ws = append(ws, s.watch(false))
				who = append(who, s)
			}
		}
		r.mu.Unlock()
		return ws, func(ps []provider.Progress) {
			now := time.Now()
			r.mu.Lock()
			defer r.mu.Unlock()
			for i, s := range who {
				switch {
				case i >= len(ps):
				case s.tokenWait.Load():
					s.sendVerdict = &judged{p: ps[i], at: now}
				case s.m.Phase == PhasePending:
					s.preJudged = &judged{p: ps[i], at: now}
				}
			}
		}
	}
}

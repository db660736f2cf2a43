package executor

// This file is the progress estimate: the counters and ETA of every event.

import "time"

func (r *run) emit(s *stepState, st Status, msg string) {
	if r.opts.OnEvent == nil {
		return
	}
	ev := Event{Time: time.Now().UTC(), Step: s.step.ID, Target: s.step.Target, Instance: s.step.Instance,
		Status: st, Message: msg, Progress: r.counters()}
	r.eventMu.Lock()
	defer r.eventMu.Unlock()
	r.opts.OnEvent(ev)
}

// etaBucket is one bucket of mutating calls as the ETA sees it; its counts are kept as
// steps change (recount), never by a scan of the steps.
type etaBucket struct {
	account, action string
	est             *estimate
	unsent          int // steps not ended whose call was not accepted yet
	accepted        int // steps whose accepted call is being followed
	lastSince       time.Time
}

// countClass is what a step adds to the counters.
type countClass uint8

const (
	cUncounted     countClass = iota
	cNone                     // not-started, cancelled: nothing more happens to it in this run
	cUnsent                   // pending
	cUnsentRunning            // running, its call not accepted yet
	cAccepted                 // running, accepted
	cDone
	cFailed
)

func classOf(st Status, ph Phase) countClass {
	switch {
	case isFinal(st):
		if st == StatusFailed {
			return cFailed
		}
		return cDone
	case st == StatusRunning && ph == PhaseAccepted, st == StatusPending && ph == PhaseAccepted:
		return cAccepted
	case st == StatusRunning:
		return cUnsentRunning
	case st == StatusPending:
		return cUnsent
	}
	return cNone
}

// tally keeps the run's counters; guarded by run.mu.
type tally struct{ done, failed, inFlight int }

// recount moves the step's share of the counters to its current status and phase (caller
// holds r.mu): O(1) per transition.
func (r *run) recount(s *stepState) {
	if s.foreign {
		return // another shard's
	}
	c := classOf(s.rec.Status, s.m.Phase)
	if c == s.counted {
		return
	}
	b := &r.buckets[s.bi]
	r.tally.add(b, s.counted, -1)
	r.tally.add(b, c, 1)
	r.unsentNow[s.bi].Store(int64(b.unsent))
	r.acceptedNow[s.bi].Store(int64(b.accepted))
	if c == cAccepted && s.m.Since.After(b.lastSince) {
		b.lastSince = s.m.Since
		r.lastSinceNow[s.bi].Store(b.lastSince.UnixNano())
	}
	s.counted = c
}

func (t *tally) add(b *etaBucket, cl countClass, sign int) {
	switch cl {
	case cDone:
		t.done += sign
	case cFailed:
		t.done += sign
		t.failed += sign
	case cUnsent:
		b.unsent += sign
	case cUnsentRunning:
		b.unsent += sign
		t.inFlight += sign
	case cAccepted:
		b.accepted += sign
		t.inFlight += sign
	}
}

func (r *run) counters() Counters {
	now := time.Now()
	r.mu.Lock()
	c := Counters{Total: r.ownSteps, Throttled: r.limiter.Throttles(),
		Done: r.tally.done, Failed: r.tally.failed, InFlight: r.tally.inFlight}
	buckets := append([]etaBucket(nil), r.buckets...)
	r.mu.Unlock()
	c.ETA = eta(buckets, now, r.limiter.CurrentRate)
	return c
}

// etaFloor is the ETA of work that is due by the estimates but not yet seen done.
const etaFloor = time.Second

// eta is the remaining time the rate caps and the work in flight allow at best: for every
// bucket of mutating calls, its unsent calls at the bucket's current rate plus one estimated
// duration (the last call must still complete), or, once all its calls are sent, what is left
// of the estimated duration of the last one sent; the largest of these. Dependencies, polling
// lag and parallelism are left out, so the run cannot end sooner. Before any step has
// completed there is no duration estimate, and only the rate part counts.
func eta(buckets []etaBucket, now time.Time, rateOf func(account, action string) float64) time.Duration {
	var best time.Duration
	for _, b := range buckets {
		d, known := b.est.get()
		var rate float64
		if b.unsent > 0 {
			rate = rateOf(b.account, b.action)
		}
		left, ok := workLeft(int64(b.unsent), int64(b.accepted), b.lastSince, d, known, rate, now)
		if !ok {
			continue
		}
		// Work is left in this bucket: a step past its estimate may end any moment, but it
		// has not ended; say so rather than "unknown".
		best = max(best, left, etaFloor)
	}
	return best
}

// workLeft is one bucket's part of eta: its unsent calls at rate (calls a second) plus one estimated
// duration d (when known), or, once all are sent, what is left of d after the last call's
// lastSince. ok is false when the bucket has no work left.
func workLeft(unsent, accepted int64, lastSince time.Time, d time.Duration, known bool, rate float64, now time.Time) (left time.Duration, ok bool) {
	switch {
	case unsent > 0:
		if rate > 0 {
			left = time.Duration(float64(unsent-1) / rate * float64(time.Second))
		}
		if known {
			left += d
		}
	case accepted > 0:
		if known {
			left = lastSince.Add(d).Sub(now)
		}
	default:
		return 0, false
	}
	return left, true
}

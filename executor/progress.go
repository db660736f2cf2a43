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

// etaBucket is one bucket of mutating calls as the ETA sees it.
type etaBucket struct {
	account, action string
	est             *estimate
	// per counters() call:
	unsent    int
	lastSince time.Time
}

func (r *run) counters() Counters {
	now := time.Now()
	r.mu.Lock()
	c := Counters{Total: len(r.rec.Steps), Throttled: r.limiter.Throttles()}
	for i := range r.buckets {
		r.buckets[i].unsent, r.buckets[i].lastSince = 0, time.Time{}
	}
	for i := range r.rec.Steps {
		st := r.rec.Steps[i].Status
		switch {
		case isFinal(st):
			c.Done++
			if st == StatusFailed {
				c.Failed++
			}
			continue
		case st == StatusRunning:
			c.InFlight++
		case st != StatusPending:
			continue // not-started, cancelled: nothing more happens to it in this run
		}
		s := r.steps[i]
		b := &r.buckets[s.bi]
		if s.m.Phase == PhaseAccepted {
			if s.m.Since.After(b.lastSince) {
				b.lastSince = s.m.Since
			}
		} else {
			b.unsent++
		}
	}
	buckets := append([]etaBucket(nil), r.buckets...)
	r.mu.Unlock()
	c.ETA = eta(buckets, now, r.limiter.CurrentRate)
	return c
}

// eta is the remaining time the rate caps and the work in flight allow at best: for every
// bucket of mutating calls, its unsent calls at the bucket's current rate plus one estimated
// duration (the last call must still complete), or, once all its calls are sent, what is left
// of the estimated duration of the last one sent; the largest of these. Dependencies, polling
// lag and parallelism are left out, so the run cannot end sooner. Before any step has
// completed there is no duration estimate, and only the rate part counts.
// etaFloor is the ETA of work that is due by the estimates but not yet seen done.
const etaFloor = time.Second

func eta(buckets []etaBucket, now time.Time, rateOf func(account, action string) float64) time.Duration {
	var best time.Duration
	for _, b := range buckets {
		d, known := b.est.get()
		var left time.Duration
		switch {
		case b.unsent > 0:
			if q := rateOf(b.account, b.action); q > 0 {
				left = time.Duration(float64(b.unsent-1) / q * float64(time.Second))
			}
			if known {
				left += d
			}
		case !b.lastSince.IsZero():
			if known {
				left = b.lastSince.Add(d).Sub(now)
			}
		default:
			continue
		}
		// Work is left in this bucket: a step past its estimate may end any moment, but it
		// has not ended; say so rather than "unknown".
		best = max(best, left, etaFloor)
	}
	return best
}

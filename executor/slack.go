package executor

// This file is how much completion lag a step in flight can take without stretching the
// run: its slack, by which the pollers space its checks when nothing waits on it but the
// end of its bucket's work (see the package doc, Polling).

import (
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// bucketLeft is the time bucket c's work needs at best from now, as the ETA counts it
// (progress.go eta): its unsent calls at its rate plus one estimated duration, or, once
// all are sent, what is left of the last one's estimated duration; for a kind whose
// verdicts cost a read each (provider.Spec.ReadPerWatch) at least its remaining reads
// at the read cap (bucketReadRate). ok is false for a
// bucket with no work left. Read without run.mu (atomics and the estimate's own lock).
func (r *run) bucketLeft(c int, now time.Time) (left time.Duration, ok bool) {
	d, known := r.buckets[c].est.get()
	unsent := r.unsentNow[c].Load()
	left, ok = workLeft(unsent, r.acceptedNow[c].Load(), time.Unix(0, r.lastSinceNow[c].Load()), d, known, r.bucketRate[c], now)
	if !ok {
		return 0, false
	}
	if q := r.bucketReadRate[c]; q > 0 {
		// A verdict and a confirmation read per step, one instance per read, at the
		// kind's read cap: that bucket ends the kind's work (MongoDB's kernel reads).
		reads := 2*unsent + r.acceptedNow[c].Load()
		left = max(left, time.Duration(float64(reads)/q*float64(time.Second)))
	}
	return max(left, 0), true
}

// runLeft is the largest bucketLeft: the run cannot end sooner (dependencies, slots and
// lag left out).
func (r *run) runLeft(now time.Time) time.Duration {
	var best time.Duration
	for c := range r.buckets {
		if left, ok := r.bucketLeft(c, now); ok {
			best = max(best, left)
		}
	}
	return best
}

// slackOf is how much later than now s can be seen done without making the run longer,
// as far as the rate caps and the estimates tell: the run's remaining time (runLeft) less
// what waits on s: its bucket's remaining work and, after s, the rest of its chain (next
// steps, later waves, dependent targets: its rank less its own operation, scaled to this
// run's durations as slotScore scales it). Before its action has an estimate there is no
// slack: a kind is probed eagerly until its first completion says how long it takes.
func (r *run) slackOf(s *stepState, now time.Time) time.Duration {
	d, known := r.buckets[s.bi].est.get()
	if !known {
		return 0
	}
	own, _ := r.bucketLeft(s.bi, now)
	after := 0.0
	if sh := r.bucketShortest[s.bi]; sh > 0 {
		after = max(0, s.rank-sh) * d.Seconds() / sh
	}
	return r.runLeft(now) - own - time.Duration(after*float64(time.Second))
}

// readRateOf is the cap of a ReadPerWatch kind's reads: the lowest rate of its
// non-mutating actions (0 for other kinds).
func (r *run) readRateOf(spec provider.Spec) float64 {
	if !spec.ReadPerWatch {
		return 0
	}
	q := 0.0
	for _, a := range spec.Actions {
		if a.Mutating {
			continue
		}
		if v := r.limiter.Rate(spec.Kind + "/" + a.Name); v > 0 && (q == 0 || v < q) {
			q = v
		}
	}
	return q
}

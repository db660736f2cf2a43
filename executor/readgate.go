package executor

// This file sizes the gate of a bucket whose verdicts cost a read each
// (provider.Spec.ReadPerWatch: MongoDB's kernel), by the pace its reads allow and the round
// trips its requests take.

import (
	"math"
	"time"
)

// sizeGate sets the gate of a bucket whose verdicts cost a read each
// (provider.Spec.ReadPerWatch) to readPerWatchGate for the round trip its calls take now,
// while steps wait for parallelism slots (any step: another kind's, or one of this kind
// past its gate; alone at a low parallelism the smaller gate measured no slower).
// Otherwise, and until its first answer, the gate is ⌈cap⌉, as any bucket's: a slot held
// before the call costs nothing while no one waits for one, and in the ideal bench
// (parallelism 2,000, MongoDB's kernel reads the bound) the smaller gate tripled MongoDB's
// completion polls for no shorter run. The gate is sized as each step joins it, so after
// the last join it keeps the size it had.
func (r *run) sizeGate(s *stepState) {
	q := r.bucketReadRate[s.bi]
	if q == 0 {
		return
	}
	rate := r.bucketRate[s.bi]
	n := max(1, int(math.Ceil(rate)))
	b := &r.buckets[s.bi] // account and action only: the counts change under r.mu
	if rtt := r.limiter.MeanRTT(b.account, b.action); rtt > 0 && r.global.waiting() > 0 {
		n = readPerWatchGate(rate, q, rtt)
	}
	r.gates[s.bucket].resize(n)
}

// readPerWatchGate is the gate of a bucket of calls at rate whose steps each cost a
// verdict read and a confirmation read at readRate, its requests taking rtt. Such a step
// holds its parallelism slot from its gate on (it takes the slot before its look, see
// sendslot.go), so a gate of ⌈rate⌉ (a second of calls) put ⌈rate⌉ slots in the queue of
// the read bucket, while its steps go at most readRate/2 a second: the 10 MongoDB steps a
// gate admitted waited 1.2 s each for their look and token, slot held (bench realistic:
// 480 slot-seconds, 7% of the run). The gate admits the steps that pace needs while one
// is in the gate: its look may wait for the poll of its group in flight, then takes a
// round trip, and its call another (3·rtt), at least half a second of them, and never
// more than ⌈rate⌉.
func readPerWatchGate(rate, readRate float64, rtt time.Duration) int {
	pace := readRate / 2
	if rate > 0 {
		pace = min(pace, rate)
	}
	span := max(500*time.Millisecond, 3*rtt).Seconds()
	n := max(1, int(math.Ceil(pace*span)))
	if rate > 0 {
		n = min(n, max(1, int(math.Ceil(rate))))
	}
	return n
}

package executor

// This file is the rate-limited work that waits behind a step through target dependsOn:
// the part of a slot's score (slotScore) that the chain rank, counted in operations, does
// not see. A target that depends on another starts only once the other's last step is
// done, and then needs at least its calls at its bucket's rate; a step whose target holds
// such work back bounds the makespan by it, however short the chain of single operations
// through it.

// bucketWork is the least time n steps of bucket c need at its caps, in seconds: their
// calls at the bucket's rate and, for a kind whose verdicts cost a read each
// (provider.Spec.ReadPerWatch), their verdict and confirmation reads at the read cap.
func (r *run) bucketWork(c int, calls, accepted int64) float64 {
	w := 0.0
	if q := r.bucketRate[c]; q > 0 {
		w = float64(calls) / q
	}
	if q := r.bucketReadRate[c]; q > 0 {
		w = max(w, float64(2*calls+accepted)/q)
	}
	return w
}

// rankAfter sets every step's after: the largest rate-limited time (bucketWork) of one
// bucket other than the step's own, among the targets that wait for the step's target
// through dependsOn, directly or through targets that wait in turn. Work in the step's own
// bucket is left out: its unsent calls are already in the bucket's remaining time.
// Computed once from the plan: a dependent target has sent nothing while it waits.
func (r *run) rankAfter() {
	perTarget := map[string]map[int]float64{}
	counts := map[string]map[int]int64{}
	for _, s := range r.steps {
		if counts[s.step.Target] == nil {
			counts[s.step.Target] = map[int]int64{}
		}
		counts[s.step.Target][s.bi]++
	}
	for t, byBucket := range counts {
		perTarget[t] = make(map[int]float64, len(byBucket))
		for c, n := range byBucket {
			perTarget[t][c] = r.bucketWork(c, n, 0)
		}
	}
	memo := make([]map[int]float64, len(r.barriers))
	busy := make([]bool, len(r.barriers))
	var after func(b *barrier) map[int]float64
	after = func(b *barrier) map[int]float64 {
		if memo[b.idx] != nil || busy[b.idx] {
			return memo[b.idx] // busy: a cycle, which linkSteps has refused already
		}
		busy[b.idx] = true
		out := map[int]float64{}
		merge := func(m map[int]float64) {
			for c, v := range m {
				out[c] = max(out[c], v)
			}
		}
		if b.next != nil {
			merge(after(b.next))
		}
		seen := map[string]bool{}
		for _, w := range b.waiters {
			if w.step.Target == b.target || seen[w.step.Target] {
				continue
			}
			seen[w.step.Target] = true
			merge(perTarget[w.step.Target])
			if w.member != nil {
				merge(after(w.member))
			}
		}
		memo[b.idx] = out
		return out
	}
	for _, s := range r.steps {
		s.after = 0
		if s.member == nil {
			continue
		}
		for c, v := range after(s.member) {
			if c != s.bi {
				s.after = max(s.after, v)
			}
		}
	}
}

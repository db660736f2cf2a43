package executor

// This file bounds the steps' goroutines. A step whose dependencies finished is queued
// here; a queued step gets a goroutine to wait for its slots only while its bucket of
// mutating calls has fewer than bucketAdmits steps waiting so (about two seconds of the
// bucket's calls: more could only queue at its gate; and no more than a quarter of the
// parallelism), and at most admitLimit in all. So
// 100,000 ready steps cost 100,000 queue entries, not 100,000 goroutine stacks, and every
// bucket always has steps at its gate while it has steps queued. A step gives its
// admission back once it holds its parallelism slot (or ends); admission follows the order
// the slots hand out (classQueue), so it never reorders them.

import (
	"math"
	"sync"
)

type admission struct {
	mu     sync.Mutex
	queue  classQueue
	active int
	limit  int
	start  func(*stepState)
	// perClass bounds, and inClass counts, the admitted steps of each bucket (stepState.bi);
	// a bucket beyond perClass's length is bounded by limit alone.
	perClass, inClass []int
}

// admitLimit is how many steps may wait for slots with a goroutine of their own.
func admitLimit(parallelism int) int { return max(256, 2*parallelism) }

// bucketAdmits is how many of a bucket's steps may wait for slots with a goroutine of their
// own: two gates' worth (the gate admits about a second of its calls) and some, and no more
// than a quarter of the parallelism (at least 64), enough to take the global slots as they
// free: admission starts the next step as soon as one takes its slot.
func bucketAdmits(rate float64, parallelism int) int {
	if math.IsNaN(rate) || rate > 1e6 {
		rate = 1e6
	}
	return min(2*max(1, int(math.Ceil(rate)))+16, max(64, parallelism/4))
}

// add queues a ready step and starts what the limit allows.
func (a *admission) add(s *stepState) {
	a.mu.Lock()
	a.queue.push(waiterOf(s))
	a.mu.Unlock()
	a.admit()
}

func (a *admission) roomIn(class int) bool {
	return class >= len(a.perClass) || a.inClass[class] < a.perClass[class]
}

func (a *admission) admit() {
	for {
		a.mu.Lock()
		if a.active >= a.limit || a.queue.n == 0 {
			a.mu.Unlock()
			return
		}
		w := a.queue.popWhere(a.roomIn)
		if w == nil {
			a.mu.Unlock()
			return
		}
		s := w.step
		a.active++
		if s.bi < len(a.inClass) {
			a.inClass[s.bi]++
		}
		s.admitted = true
		a.mu.Unlock()
		a.start(s)
	}
}

// done gives back s's admission, if it holds one.
func (a *admission) done(s *stepState) {
	a.mu.Lock()
	held := s.admitted
	if held {
		s.admitted = false
		a.active--
		if s.bi < len(a.inClass) {
			a.inClass[s.bi]--
		}
	}
	a.mu.Unlock()
	if held {
		a.admit()
	}
}

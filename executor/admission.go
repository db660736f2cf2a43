package executor

// This file bounds the steps' goroutines. A step whose dependencies finished is queued
// here; at most admitLimit queued steps at a time get a goroutine to wait for their slots,
// so 100,000 ready steps cost 100,000 queue entries, not 100,000 goroutine stacks. A step
// gives its admission back once it holds its parallelism slot (or ends); admission follows
// the order the slots hand out (classQueue), so it never reorders them.

import "sync"

type admission struct {
	mu     sync.Mutex
	queue  classQueue
	active int
	limit  int
	start  func(*stepState)
}

// admitLimit is how many steps may wait for slots with a goroutine of their own.
func admitLimit(parallelism int) int { return max(256, 2*parallelism) }

// add queues a ready step and starts what the limit allows.
func (a *admission) add(s *stepState) {
	a.mu.Lock()
	a.queue.push(waiterOf(s))
	a.mu.Unlock()
	a.admit()
}

func (a *admission) admit() {
	for {
		a.mu.Lock()
		if a.active >= a.limit || a.queue.n == 0 {
			a.mu.Unlock()
			return
		}
		s := a.queue.pop().step
		a.active++
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
	}
	a.mu.Unlock()
	if held {
		a.admit()
	}
}

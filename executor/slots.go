package executor

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
)

// slots is a counting semaphore that hands a free slot to the waiter whose work bounds the
// makespan: among the waiters' buckets, the one whose remaining rate-limited time (its
// unsent calls at its rate) plus the waiter's remaining chain (in estimated seconds,
// run.slotScore) is the longest; within a
// bucket the longest remaining chain, then the lowest plan index. Handing out by plan
// order made accounts run one after another, the slow bucket of the last one starting late.
type slots struct {
	mu      sync.Mutex
	free    int // below 0 after resize shrank it: releases pay that back first
	size    int
	waiters classQueue
	// onWaiting, when set, is told the number of waiters after every change (under mu).
	onWaiting func(n int)
	nWaiting  atomic.Int64
}

type waiter struct {
	class   int     // the step's bucket
	rank    float64 // the step's remaining chain, seconds
	after   float64 // rate-limited work waiting behind the step's target, seconds (afterwork.go)
	index   int     // plan order
	step    *stepState
	ch      chan struct{} // closed when granted
	granted bool
	pos     int // heap position; -1 once removed
}

func waiterOf(s *stepState) *waiter {
	return &waiter{class: s.bi, rank: s.rank, after: s.after, index: s.pos, step: s, ch: make(chan struct{})}
}

type waitHeap []*waiter

func (h waitHeap) Len() int { return len(h) }
func (h waitHeap) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank > h[j].rank
	}
	return h[i].index < h[j].index
}
func (h waitHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos, h[j].pos = i, j
}
func (h *waitHeap) Push(x any) { w := x.(*waiter); w.pos = len(*h); *h = append(*h, w) }
func (h *waitHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	*h = old[:len(old)-1]
	w.pos = -1
	return w
}

// classQueue keeps waiters in one heap per class (bucket) and pops the best: the class
// whose best waiter scores highest (run.slotScore: its remaining rate-limited time plus the
// waiter's rank in estimated seconds).
type classQueue struct {
	heaps []waitHeap
	n     int
	score func(class int, w *waiter) float64 // nil: the rank alone
}

func (q *classQueue) push(w *waiter) {
	for len(q.heaps) <= w.class {
		q.heaps = append(q.heaps, nil)
	}
	heap.Push(&q.heaps[w.class], w)
	q.n++
}

func (q *classQueue) remove(w *waiter) {
	heap.Remove(&q.heaps[w.class], w.pos)
	q.n--
}

func (q *classQueue) pop() *waiter { return q.popWhere(nil) }

// popWhere pops the best waiter of the classes allowed (nil: all); nil when no allowed class
// has one.
func (q *classQueue) popWhere(allowed func(class int) bool) *waiter {
	best, score := -1, 0.0
	for c := range q.heaps {
		if len(q.heaps[c]) == 0 || (allowed != nil && !allowed(c)) {
			continue
		}
		top := q.heaps[c][0]
		sc := top.rank
		if q.score != nil {
			sc = q.score(c, top)
		}
		if best < 0 || sc > score || (sc == score && top.index < q.heaps[best][0].index) {
			best, score = c, sc
		}
	}
	if best < 0 {
		return nil
	}
	q.n--
	return heap.Pop(&q.heaps[best]).(*waiter)
}

func newSlots(n int, score func(int, *waiter) float64) *slots {
	return &slots{free: n, size: n, waiters: classQueue{score: score}}
}

// resize makes the semaphore n slots (at least 1). Slots held beyond a smaller size are
// not taken back: they are simply not handed out again when released.
func (s *slots) resize(n int) {
	n = max(1, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	if n == s.size {
		return
	}
	s.free += n - s.size
	s.size = n
	for s.free > 0 && s.waiters.n > 0 {
		s.free--
		w := s.waiters.pop()
		w.granted = true
		close(w.ch)
	}
	s.notify()
}

// acquire takes a slot for s, or returns false when stop or ctx is done first. waited says
// whether the step had to queue for it.
func (s *slots) acquire(ctx context.Context, st *stepState, stop <-chan struct{}) (granted, waited bool) {
	s.mu.Lock()
	if s.free > 0 && s.waiters.n == 0 {
		s.free--
		s.mu.Unlock()
		return true, false
	}
	w := waiterOf(st)
	s.waiters.push(w)
	s.notify()
	s.mu.Unlock()
	select {
	case <-w.ch:
		return true, true
	case <-stop:
	case <-ctx.Done():
	}
	s.mu.Lock()
	if w.granted {
		s.mu.Unlock()
		s.release() // granted while giving up: pass it on
		return false, true
	}
	s.waiters.remove(w)
	s.notify()
	s.mu.Unlock()
	return false, true
}

// release frees a slot: the best waiter gets it.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiters.n == 0 || s.free < 0 {
		s.free++
		return
	}
	w := s.waiters.pop()
	w.granted = true
	close(w.ch)
	s.notify()
}

// waiting is the number of steps waiting for a slot.
func (s *slots) waiting() int64 { return s.nWaiting.Load() }

func (s *slots) notify() {
	s.nWaiting.Store(int64(s.waiters.n))
	if s.onWaiting != nil {
		s.onWaiting(s.waiters.n)
	}
}

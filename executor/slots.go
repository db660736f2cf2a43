package executor

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
)

// slots is a counting semaphore that hands free slots to waiters in plan order (the lowest
// step index first), so that when parallelism binds, steps start in the order the plan lists
// them rather than in the order their goroutines happened to ask.
type slots struct {
	mu      sync.Mutex
	free    int
	waiters waitHeap
	// onWaiting, when set, is told the number of waiters after every change (under mu).
	onWaiting func(n int)
	nWaiting  atomic.Int64
}

type waiter struct {
	index   int
	ch      chan struct{} // closed when granted
	granted bool
	pos     int // heap position; -1 once removed
}

type waitHeap []*waiter

func (h waitHeap) Len() int           { return len(h) }
func (h waitHeap) Less(i, j int) bool { return h[i].index < h[j].index }
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

func newSlots(n int) *slots { return &slots{free: n} }

// acquire takes a slot for the step at index, or returns false when stop or ctx is done
// first. waited says whether the step had to queue for it.
func (s *slots) acquire(ctx context.Context, index int, stop <-chan struct{}) (granted, waited bool) {
	s.mu.Lock()
	if s.free > 0 && len(s.waiters) == 0 {
		s.free--
		s.mu.Unlock()
		return true, false
	}
	w := &waiter{index: index, ch: make(chan struct{})}
	heap.Push(&s.waiters, w)
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
	heap.Remove(&s.waiters, w.pos)
	s.notify()
	s.mu.Unlock()
	return false, true
}

// release frees a slot: the waiter with the lowest index gets it.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiters) == 0 {
		s.free++
		return
	}
	w := heap.Pop(&s.waiters).(*waiter)
	w.granted = true
	close(w.ch)
	s.notify()
}

// waiting is the number of steps waiting for a slot.
func (s *slots) waiting() int64 { return s.nWaiting.Load() }

func (s *slots) notify() {
	s.nWaiting.Store(int64(len(s.waiters)))
	if s.onWaiting != nil {
		s.onWaiting(len(s.waiters))
	}
}

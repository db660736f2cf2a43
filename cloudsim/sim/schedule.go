package sim

import (
	"container/heap"
	"time"
)

// transition is one scheduled lifecycle step: fn runs once the simulated clock reaches due.
type transition struct {
	due time.Time
	seq uint64 // breaks ties in scheduling order
	fn  func(now time.Time)
}

// schedule is a min-heap of transitions by (due, seq).
type schedule []transition

func (s schedule) Len() int { return len(s) }
func (s schedule) Less(i, j int) bool {
	if !s[i].due.Equal(s[j].due) {
		return s[i].due.Before(s[j].due)
	}
	return s[i].seq < s[j].seq
}
func (s schedule) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s *schedule) Push(x any)   { *s = append(*s, x.(transition)) }
func (s *schedule) Pop() any {
	old := *s
	t := old[len(old)-1]
	*s = old[:len(old)-1]
	return t
}

// host is the Host the server hands to actions (c is the call) and to actors' changes
// (c is nil, actor names the actor); every method runs under the server lock.
type host struct {
	s                 *Server
	c                 *call
	product, stateKey string
	actor             string
}

func (h host) After(d time.Duration, fn func(now time.Time)) {
	s := h.s
	s.seq++
	heap.Push(&s.sched, transition{due: s.base().Add(d), seq: s.seq, fn: fn})
}

// base is the moment a change made now logically happens: the due time of the transition
// running, else the simulated clock. A transition that schedules another (a change that
// becomes visible, then completes) thus keeps exact times however late it ran.
func (s *Server) base() time.Time {
	if !s.running.IsZero() {
		return s.running
	}
	return s.simNow()
}

func (h host) Duration(stateKey string, def time.Duration) time.Duration {
	if d, ok := h.s.durations[stateKey]; ok {
		return d
	}
	return def
}

func (h host) FailUpgrade(instanceID string) bool { return h.s.faults.failUpgrades[instanceID] }

// runDue runs, in due order, every transition whose time has come, including ones that
// earlier transitions schedule. Each fn receives its own due time as "now", so a state
// change carries the moment it logically happened, not the moment it was observed.
// A transition that panics is dropped and reported as an error.
func (s *Server) runDue() (err error) {
	now := s.simNow()
	for len(s.sched) > 0 && !s.sched[0].due.After(now) {
		t := heap.Pop(&s.sched).(transition)
		s.running = t.due
		perr := runTransition(t)
		s.running = time.Time{}
		if perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

func runTransition(t transition) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = sprintfErr("sim: a lifecycle transition due at %s panicked: %v", t.due.Format(time.RFC3339Nano), v)
		}
	}()
	t.fn(t.due)
	return nil
}

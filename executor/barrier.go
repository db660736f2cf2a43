package executor

// This file holds the dependencies between steps: a step's own dependsOn edges (chains on
// one instance), and barriers for canary waves and target dependsOn. A barrier is one wave
// of a target together with every wave before it; it counts its members that have not
// finished, so a target of K steps in W waves costs K + W links, and a target that depends
// on another waits for that target's last barrier, not for each of its steps: no path is
// quadratic in the steps of a target.

import (
	"fmt"
	"sort"
	"strings"

	"github.com/upgradeplan/upgradeplan/planner"
)

// barrier is done once its members and the barrier before it (the target's previous wave)
// have all finished. Guarded by run.mu, except done.
type barrier struct {
	target string
	wave   int
	idx    int      // index in run.barriers
	prev   *barrier // the target's previous wave, nil for the first
	next   *barrier
	left   int // members not finished, plus one while prev is not done
	done   chan struct{}
	// bad is the first member (lowest plan index, this wave or before) that failed, was
	// skipped or drifted; notRun the first that ended in this run without running.
	bad, notRun *stepState
	members     []*stepState // for the cycle check
	waiters     []*stepState // steps that wait for it
}

// waitOn is a barrier a step waits for, and why.
type waitOn struct {
	b    *barrier
	kind depKind
}

// linkSteps expands the plan's dependencies: step edges and chains, and the barriers of
// waves and target dependsOn.
func (r *run) linkSteps(byID map[string]*stepState, byTarget map[string][]*stepState, targets map[string]*planner.Target) error {
	waves := map[string][]*barrier{} // target → its barriers by wave, ascending
	for _, name := range sortedTargets(byTarget) {
		ss := byTarget[name]
		byWave := map[int]*barrier{}
		var list []*barrier
		for _, s := range ss {
			b := byWave[s.step.Wave]
			if b == nil {
				b = &barrier{target: name, wave: s.step.Wave, done: make(chan struct{})}
				byWave[s.step.Wave] = b
				list = append(list, b)
			}
			b.left++
			b.members = append(b.members, s)
			s.member = b
		}
		sort.Slice(list, func(i, j int) bool { return list[i].wave < list[j].wave })
		for i, b := range list {
			b.idx = len(r.barriers)
			r.barriers = append(r.barriers, b)
			if i > 0 {
				b.prev, list[i-1].next = list[i-1], b
				b.left++
			}
		}
		waves[name] = list
	}
	for _, s := range r.steps {
		seen := map[*stepState]bool{}
		for _, id := range s.step.DependsOn {
			d, ok := byID[id]
			if !ok {
				return fmt.Errorf("plan: step %s depends on unknown step %s", s.step.ID, id)
			}
			if d == s || seen[d] {
				continue
			}
			seen[d] = true
			s.deps = append(s.deps, dep{d, depStep})
			d.dependents = append(d.dependents, s)
			if d.step.Instance == s.step.Instance && d.step.Kind == s.step.Kind && d.step.Region == s.step.Region {
				s.prev = d
				if d.next == nil {
					d.next = s
				}
			}
		}
		if t := targets[s.step.Target]; t != nil {
			for _, tn := range t.DependsOn {
				if list := waves[tn]; len(list) > 0 && tn != s.step.Target {
					s.waits = append(s.waits, waitOn{list[len(list)-1], depTarget})
				}
			}
		}
		if b := s.member; b != nil && b.prev != nil {
			s.waits = append(s.waits, waitOn{b.prev, depWave})
		}
		for _, w := range s.waits {
			w.b.waiters = append(w.b.waiters, s)
		}
		s.blockers = len(s.deps) + len(s.waits)
	}
	if cyc := r.findCycle(); cyc != "" {
		return fmt.Errorf("plan: steps depend on each other in a cycle: %s", cyc)
	}
	return nil
}

func sortedTargets(byTarget map[string][]*stepState) []string {
	names := make([]string, 0, len(byTarget))
	for n := range byTarget {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// stepDone counts a finished step in its barrier (and, when that completes the barrier, in
// the barriers after it), and starts the steps that waited for nothing else.
func (r *run) stepDone(s *stepState) {
	r.mu.Lock()
	var start []*stepState
	unblock := func(ws []*stepState) {
		for _, w := range ws {
			if w.blockers--; w.blockers == 0 {
				start = append(start, w)
			}
		}
	}
	unblock(s.dependents)
	b := s.member
	if b != nil {
		switch s.rec.Status {
		case StatusSucceeded, StatusNoop:
		case StatusFailed, StatusSkipped, StatusDrifted:
			b.bad = firstOf(b.bad, s)
		default:
			b.notRun = firstOf(b.notRun, s)
		}
	}
	for b != nil {
		if b.left--; b.left > 0 {
			break
		}
		close(b.done)
		unblock(b.waiters)
		if n := b.next; n != nil {
			n.bad, n.notRun = firstOf(n.bad, b.bad), firstOf(n.notRun, b.notRun)
		}
		b = b.next
	}
	r.mu.Unlock()
	for _, w := range start {
		r.startStep(w)
	}
}

func firstOf(a, b *stepState) *stepState {
	if a == nil || (b != nil && b.pos < a.pos) {
		return b
	}
	return a
}

// depVerdict says whether a step can start after its dependencies finished.
func (r *run) depVerdict(s *stepState) (Status, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var notRun string
	judge := func(d *stepState, kind depKind) (Status, string) {
		st := d.rec.Status
		what := d.step.ID
		switch kind {
		case depTarget:
			what = "target " + d.step.Target + " (step " + d.step.ID + ")"
		case depWave:
			what = fmt.Sprintf("wave %d of target %s (step %s)", d.step.Wave, d.step.Target, d.step.ID)
		}
		switch st {
		case StatusSucceeded, StatusNoop:
		case StatusFailed, StatusSkipped:
			return StatusSkipped, "depends on " + what + ", which " + pastTense(st)
		case StatusDrifted:
			// A drifted dependency was not applied: what this step was planned after did not
			// happen, so it is skipped like after a failure; re-plan to go on.
			return StatusSkipped, "depends on " + what + ", which drifted and was not applied"
		default:
			if notRun == "" {
				notRun = "depends on " + what + ", which did not run (" + string(st) + ")"
			}
		}
		return "", ""
	}
	for _, d := range s.deps {
		if st, why := judge(d.s, d.kind); st != "" {
			return st, why
		}
	}
	for _, w := range s.waits {
		if w.b.bad != nil {
			return judge(w.b.bad, w.kind)
		}
		if w.b.notRun != nil {
			judge(w.b.notRun, w.kind)
		}
	}
	if notRun != "" {
		return StatusNotStarted, notRun
	}
	return "", ""
}

func pastTense(st Status) string {
	if st == StatusFailed {
		return "failed"
	}
	return "was skipped"
}

// findCycle returns a dependency cycle among the steps ("a → b → a"; a barrier shows as
// "[wave W of target T]"), or "". Nodes are the steps (by plan index) and the barriers
// after them; a step leads to what it waits for, a barrier to its members and its previous
// wave.
func (r *run) findCycle() string {
	const (
		white = iota
		grey
		black
	)
	n := len(r.steps)
	color := make([]uint8, n+len(r.barriers))
	name := func(v int) string {
		if v < n {
			return r.steps[v].step.ID
		}
		b := r.barriers[v-n]
		return fmt.Sprintf("[wave %d of target %s]", b.wave, b.target)
	}
	edges := func(v int, yield func(int) bool) bool {
		if v < n {
			s := r.steps[v]
			for _, d := range s.deps {
				if yield(d.s.pos) {
					return true
				}
			}
			for _, w := range s.waits {
				if yield(n + w.b.idx) {
					return true
				}
			}
			return false
		}
		b := r.barriers[v-n]
		for _, m := range b.members {
			if yield(m.pos) {
				return true
			}
		}
		return b.prev != nil && yield(n+b.prev.idx)
	}
	var stack []int
	var found string
	var visit func(v int) bool
	visit = func(v int) bool {
		color[v] = grey
		stack = append(stack, v)
		if edges(v, func(u int) bool {
			switch color[u] {
			case grey:
				start := 0
				for i, x := range stack {
					if x == u {
						start = i
					}
				}
				var ids []string
				for _, x := range stack[start:] {
					ids = append(ids, name(x))
				}
				found = strings.Join(append(ids, name(u)), " → ")
				return true
			case white:
				return visit(u)
			}
			return false
		}) {
			return true
		}
		stack = stack[:len(stack)-1]
		color[v] = black
		return false
	}
	for v := range color {
		if color[v] == white && visit(v) {
			return found
		}
	}
	return ""
}

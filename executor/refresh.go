package executor

import (
	"context"
	"fmt"
	"math"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/upgradeplan/upgradeplan/provider"
)

// refresh observes, with one Observe per group, the steps of each group that its bucket can
// send in the run's first refreshAhead (see refreshQuota). Its final verdicts (noop, drifted,
// failed) end steps at once; a "ready" verdict is kept for a step that reaches its call
// within the look freshness bound. Every other step is judged by a look right before its
// call, as a chained step is after its predecessor.
func (r *run) refresh(ctx context.Context) error {
	byGroup := map[groupKey][]*stepState{}
	var keys []groupKey
	for _, s := range r.steps {
		if s.m.Phase != PhasePending {
			continue
		}
		if s.prev != nil && s.prev.m.Phase != PhaseFinal {
			continue // judged when it is about to start, after its predecessor
		}
		if _, ok := byGroup[s.group]; !ok {
			keys = append(keys, s.group)
		} else if len(byGroup[s.group]) >= r.refreshQuota(s) {
			continue // judged by the look before its call
		}
		byGroup[s.group] = append(byGroup[s.group], s)
	}
	var g errgroup.Group
	for _, k := range keys {
		g.Go(func() error {
			ss := byGroup[k]
			ws := make([]provider.Watch, len(ss))
			for i, s := range ss {
				ws[i] = s.watch(false)
			}
			ps, err := observeSafely(ctx, r.provs[k], ws)
			if err == nil && len(ps) != len(ws) {
				err = fmt.Errorf("observe answered %d of %d watches", len(ps), len(ws))
			}
			if err != nil {
				return fmt.Errorf("refresh %s: %w", k, err)
			}
			for i, s := range ss {
				r.judgeAtRefresh(s, ps[i])
			}
			return nil
		})
	}
	return g.Wait()
}

// refreshAhead is how far ahead the refresh judges each group: a verdict older than the
// look freshness bound is taken again before the call anyway, so judging more at the start
// only delays the first calls of every kind, by minutes where a product reads one instance
// per call (MongoDB's kernel: 5,000 steps at 10 reads/s held an apply's start 8 minutes).
const refreshAhead = time.Second

// refreshQuota is how many steps of s's group the refresh judges: what the group's bucket
// sends in refreshAhead, at least one.
//
// Where a verdict costs a read of its own (provider.Spec.ReadPerWatch) it is one: the
// refresh still shows that the group can be read before any call, and the others are read
// once they hold their slots; a verdict read at the start for a step that then waits more
// than the bound for its slot is read again (the realistic bench read 22 of 108 MongoDB
// kernels twice before their calls).
func (r *run) refreshQuota(s *stepState) int {
	if s.spec.ReadPerWatch {
		return 1
	}
	return max(1, int(math.Ceil(r.limiter.Rate(s.group.kind+"/"+s.step.Action)*refreshAhead.Seconds())))
}

func (r *run) judgeAtRefresh(s *stepState, p provider.Progress) {
	switch p.State {
	case provider.StatePending, provider.StateWaiting, provider.StateInProgress:
		if _, chainDone := provider.Matches(p.Observed, s.cfg.ChainTo); !chainDone || p.Observed == nil {
			r.mu.Lock()
			s.preJudged = &judged{p: p, at: time.Now()}
			if s.rec.Before == nil {
				s.m.Before = r.observed.share(p.Observed)
				s.rec.Before = s.m.Before
			}
			r.mu.Unlock()
			return
		}
	}
	r.feed(s, input{Kind: inLook, P: p})
}

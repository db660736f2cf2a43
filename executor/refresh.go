package executor

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/upgradeplan/upgradeplan/provider"
)

// refresh observes, with one Observe per group, the first step of each group (see
// refreshQuota). Its final verdicts (noop, drifted,
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

// refreshQuota is how many steps of s's group the refresh judges: one. The refresh proves
// that every group can be read before any call (a group that cannot ends the segment, exit
// 1) and ends its first steps' noops and drifts; every kind's first call waits for the
// slowest group's refresh, and a verdict is taken again before a call more than the look
// freshness bound after it anyway. Judging what a bucket sends in its first second held
// every kind 2.4 s at the realistic bench's start (MongoDB reads a kernel per watch from a
// 10/s bucket that an account's regions share; judging the whole fleet held it minutes).
func (r *run) refreshQuota(*stepState) int { return 1 }

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

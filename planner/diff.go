package planner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/upgradeplan/upgradeplan/manifest"
	"github.com/upgradeplan/upgradeplan/provider"
)

// planGroups reads and diffs every group, each on its own as soon as its listing is in:
// list, select every target's instances, refuse an instance two targets select, diff each
// selected instance with the provider's rules. A group holds its listing only until its
// diffs are done, so a fleet of 100,000 instances does not hold every listing at once (a
// group of Redis pages is planned and released while MongoDB's pages still come in).
// Up to limit groups list at a time; a group that has listed diffs without holding a slot.
//
// It returns, by target index, the sorted ids of the instances each target selected and
// its changes by instance id, and every problem found (a failed listing, an empty
// selection, an unknown id, a shared instance, a refused diff). The error is ctx's.
func planGroups(ctx context.Context, fleet *manifest.Fleet, groups []*group, limit int) (ids [][]string, byTarget []map[string][]provider.Change, problems Problems, err error) {
	ids = make([][]string, len(fleet.Targets))
	byTarget = make([]map[string][]provider.Change, len(fleet.Targets))
	var mu sync.Mutex
	var wg sync.WaitGroup
	listing := make(chan struct{}, limit) // a slot per listing in flight; diffs hold none
	for _, g := range groups {
		if g.prov == nil {
			continue
		}
		listing <- struct{}{}
		wg.Go(func() {
			found := planGroup(ctx, fleet, g, limit, ids, byTarget, func() { <-listing }) // distinct targets per group
			mu.Lock()
			problems = append(problems, found...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("planner: %w", err)
	}
	return ids, byTarget, problems, nil
}

// diffJob is one selected instance to diff, kept until its diff is done.
type diffJob struct {
	target int
	inst   provider.Instance
	want   provider.Desired
}

// planGroup is planGroups for one group: it fills ids and byTarget at the group's targets.
// listed is called once the listing is in.
func planGroup(ctx context.Context, fleet *manifest.Fleet, g *group, parallelism int, ids [][]string, byTarget []map[string][]provider.Change, listed func()) Problems {
	g.listed, g.listErr = g.prov.List(ctx, g.sel)
	listed()
	if g.listErr != nil {
		t := fleet.Targets[g.targets[0]]
		names := make([]string, len(g.targets))
		for i, ti := range g.targets {
			names[i] = fleet.Targets[ti].Name
		}
		path := fmt.Sprintf("targets[%d].select", t.Index)
		return Problems{{
			Pos: fleet.Pos(path), Path: path, Target: strings.Join(names, ", "),
			Message: fmt.Sprintf("list %s in %s%s: %v", g.kind, g.region, accountSuffix(g.account), g.listErr),
		}}
	}
	var problems Problems
	matched := make([][]provider.Instance, len(g.targets))
	for i, ti := range g.targets {
		matched[i], problems = selectInstances(fleet, ti, g, problems)
	}
	g.listed = nil // the targets' selections hold what is planned
	problems = append(problems, sharedInstances(fleet, g, matched)...)

	n := 0
	for _, m := range matched {
		n += len(m)
	}
	jobs := make([]diffJob, 0, n)
	for i, ti := range g.targets {
		ids[ti] = make([]string, len(matched[i]))
		want := convertDesired(fleet.Targets[ti].Desired)
		for k, inst := range matched[i] {
			ids[ti][k] = inst.ID
			jobs = append(jobs, diffJob{target: ti, inst: inst, want: want})
		}
		sort.Strings(ids[ti])
		matched[i] = nil
	}

	// The diffs run on a few workers: a provider that reads per instance (MongoDB's
	// kernel) is held to its rate cap by the Doer anyway, so more goroutines would only
	// wait. Each job drops its instance once diffed.
	changes := make([][]provider.Change, len(jobs))
	errs := make([]error, len(jobs))
	var next atomic.Int64
	var eg errgroup.Group
	for range min(parallelism, PlanWorkersPerGroup, len(jobs)) {
		eg.Go(func() error {
			for k := next.Add(1) - 1; k < int64(len(jobs)) && ctx.Err() == nil; k = next.Add(1) - 1 {
				j := &jobs[k]
				changes[k], errs[k] = g.prov.Plan(ctx, j.inst, j.want)
				j.inst = provider.Instance{ID: j.inst.ID}
			}
			return nil
		})
	}
	_ = eg.Wait()
	for _, ti := range g.targets {
		byTarget[ti] = map[string][]provider.Change{}
	}
	for k, j := range jobs {
		if errs[k] != nil {
			problems = append(problems, planProblems(fleet, fleet.Targets[j.target], j.inst.ID, errs[k])...)
		} else if len(changes[k]) > 0 {
			byTarget[j.target][j.inst.ID] = changes[k]
		}
	}
	return problems
}

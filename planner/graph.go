package planner

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/upgradeplan/upgradeplan/manifest"
	"github.com/upgradeplan/upgradeplan/provider"
)

// targetOrder returns the targets' indexes in dependency order (a target after every target
// it depends on; ties in manifest order). The manifest decoder already rejects unknown names
// and cycles; this check is defensive, for fleets built by other means.
func targetOrder(fleet *manifest.Fleet) ([]int, Problems) {
	var problems Problems
	byName := map[string]int{}
	for i, t := range fleet.Targets {
		if _, dup := byName[t.Name]; dup {
			path := fmt.Sprintf("targets[%d].name", t.Index)
			problems = append(problems, &Problem{Pos: fleet.Pos(path), Path: path, Target: t.Name,
				Message: "two targets have this name"})
			continue
		}
		byName[t.Name] = i
	}
	indegree := make([]int, len(fleet.Targets))
	dependents := make([][]int, len(fleet.Targets))
	for i, t := range fleet.Targets {
		for k, dep := range t.DependsOn {
			j, ok := byName[dep]
			if !ok {
				path := fmt.Sprintf("targets[%d].dependsOn[%d]", t.Index, k)
				problems = append(problems, &Problem{Pos: fleet.Pos(path), Path: path, Target: t.Name,
					Message: fmt.Sprintf("no target is named %q", dep)})
				continue
			}
			indegree[i]++
			dependents[j] = append(dependents[j], i)
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	// Kahn's algorithm, always taking the ready target that comes first in the manifest.
	var ready, order []int
	for i, d := range indegree {
		if d == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		sort.Ints(ready)
		i := ready[0]
		ready = ready[1:]
		order = append(order, i)
		for _, j := range dependents[i] {
			indegree[j]--
			if indegree[j] == 0 {
				ready = append(ready, j)
			}
		}
	}
	if len(order) == len(fleet.Targets) {
		return order, nil
	}
	cycle := findCycle(fleet, byName, indegree)
	t := fleet.Targets[cycle[0]]
	names := make([]string, 0, len(cycle)+1)
	for _, i := range cycle {
		names = append(names, fleet.Targets[i].Name)
	}
	names = append(names, t.Name)
	path := fmt.Sprintf("targets[%d].dependsOn", t.Index)
	return nil, Problems{{Pos: fleet.Pos(path), Path: path, Target: t.Name,
		Message: "dependency cycle: " + strings.Join(names, " → ") + "; remove one of these dependsOn entries"}}
}

// findCycle walks dependsOn from the first target left with unmet dependencies until a target
// repeats, and returns the cycle in walking order.
func findCycle(fleet *manifest.Fleet, byName map[string]int, indegree []int) []int {
	start := -1
	for i, d := range indegree {
		if d > 0 {
			start = i
			break
		}
	}
	seen := map[int]int{}
	var walk []int
	for i := start; ; {
		if at, ok := seen[i]; ok {
			return walk[at:]
		}
		seen[i] = len(walk)
		walk = append(walk, i)
		next := -1
		for _, dep := range fleet.Targets[i].DependsOn {
			if j := byName[dep]; indegree[j] > 0 {
				next = j
				break
			}
		}
		if next < 0 { // cannot happen: a target left over depends on another left over
			return walk
		}
		i = next
	}
}

// targetSteps turns one target's changes (by instance id) into steps: instances sorted by
// id; several changes of one instance are chained (#2 depends on #1); with canary N, the first
// N instances with changes are wave 0 and every other instance is wave 1, its first step
// depending on the last step of every wave-0 instance.
//
// Dependencies between targets are not expanded here: they stay on Target.DependsOn.
func targetSteps(t manifest.Target, changes map[string][]provider.Change) []Step {
	ids := make([]string, 0, len(changes))
	for id := range changes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	n := 0
	for _, cs := range changes {
		n += len(cs)
	}
	steps := make([]Step, 0, n)
	var canaryLast []string
	for n, id := range ids {
		cs := changes[id]
		wave := 0
		if t.Canary > 0 && n >= t.Canary {
			wave = 1
		}
		prev := ""
		for k, c := range cs {
			sid := t.Name + "/" + id
			if len(cs) > 1 {
				sid = fmt.Sprintf("%s#%d", sid, k+1)
			}
			var deps []string
			switch {
			case k > 0:
				deps = []string{prev}
			case wave == 1:
				deps = slices.Clone(canaryLast)
			}
			steps = append(steps, Step{
				ID:        sid,
				Target:    t.Name,
				Kind:      t.Kind,
				Region:    t.Region,
				Account:   t.Account,
				Instance:  id,
				Action:    c.Action,
				Params:    nonNilParams(c.Params),
				From:      nonNilValues(c.From),
				To:        nonNilValues(c.To),
				DependsOn: deps,
				Wave:      wave,
				Notes:     slices.Clone(c.Notes),
			})
			prev = sid
		}
		if wave == 0 && t.Canary > 0 {
			canaryLast = append(canaryLast, prev)
		}
	}
	return steps
}

func nonNilParams(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func nonNilValues(v provider.Values) provider.Values {
	if v == nil {
		return provider.Values{}
	}
	return v
}

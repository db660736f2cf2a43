package planner

import (
	"fmt"

	"github.com/upgradeplan/upgradeplan/manifest"
	"github.com/upgradeplan/upgradeplan/provider"
)

// sharedInstances refuses every instance that two targets select. Two targets would plan two
// independent steps on it from the same observed state, and apply would send both (a shrink
// to an instance the other step just grew). A user who wants two changes on one instance
// writes them in one target, whose steps the provider chains.
//
// Each such instance is reported at both targets' select, naming both targets. Targets of
// different groups (kind, account, region) cannot share an instance; matched holds the
// selections of g's targets, in g.targets order.
func sharedInstances(fleet *manifest.Fleet, g *group, matched [][]provider.Instance) Problems {
	var problems Problems
	first := map[string]int{} // instance id → the first of the group's targets selecting it
	for i, insts := range matched {
		ti := g.targets[i]
		for _, inst := range insts {
			o, seen := first[inst.ID]
			if !seen {
				first[inst.ID] = ti
				continue
			}
			a, b := fleet.Targets[o], fleet.Targets[ti]
			for _, pair := range [][2]manifest.Target{{a, b}, {b, a}} {
				path := fmt.Sprintf("targets[%d].select", pair[0].Index)
				problems = append(problems, &Problem{Pos: fleet.Pos(path), Path: path, Target: pair[0].Name, Instance: inst.ID,
					Message: fmt.Sprintf("targets %s and %s both select this instance; an instance belongs to one target: write both changes in one target, or narrow a selection",
						a.Name, b.Name)})
			}
		}
	}
	return problems
}

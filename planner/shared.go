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
// Each such instance is reported at both targets' select, naming both targets.
func sharedInstances(fleet *manifest.Fleet, groupOf []*group, matched [][]provider.Instance) Problems {
	var problems Problems
	type owner struct {
		group  *group
		target int
	}
	first := map[string]owner{} // group key + instance id → the first target selecting it
	for ti, insts := range matched {
		g := groupOf[ti]
		if g == nil {
			continue
		}
		for _, inst := range insts {
			key := g.kind + "\x00" + g.account + "\x00" + g.region + "\x00" + inst.ID
			o, seen := first[key]
			if !seen {
				first[key] = owner{group: g, target: ti}
				continue
			}
			a, b := fleet.Targets[o.target], fleet.Targets[ti]
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

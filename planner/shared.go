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
// Each such instance is reported at both targets' select, naming both targets. matched
// holds the selections of g's targets, in g.targets order. Targets of other groups are
// sharedAcrossAccounts' to compare.
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
			problems = append(problems, sharedProblems(fleet, o, ti, inst.ID)...)
		}
	}
	return problems
}

// sharedAcrossAccounts is sharedInstances for targets of one kind and region under
// different account names. Two names can be one cloud account (two aliases of one key, or
// an alias and the default chain), and an instance id names one instance in its cloud
// whichever credentials read it, so the same id selected under two names is one instance
// planned twice. ids holds every target's selected instance ids (planGroups').
func sharedAcrossAccounts(fleet *manifest.Fleet, groups []*group, ids [][]string) Problems {
	accounts := map[[2]string]map[string]bool{} // (kind, region) → the account names its groups use
	for _, g := range groups {
		k := [2]string{g.kind, g.region}
		if accounts[k] == nil {
			accounts[k] = map[string]bool{}
		}
		accounts[k][g.account] = true
	}
	var problems Problems
	first := map[[3]string]int{} // (kind, region, id) → the first target selecting it
	for ti, t := range fleet.Targets {
		k := [2]string{t.Kind, t.Region}
		if len(accounts[k]) < 2 {
			continue // one account name: sharedInstances compared them
		}
		for _, id := range ids[ti] {
			key := [3]string{t.Kind, t.Region, id}
			o, seen := first[key]
			if !seen {
				first[key] = ti
				continue
			}
			if fleet.Targets[o].Account != t.Account {
				problems = append(problems, sharedProblems(fleet, o, ti, id)...)
			}
		}
	}
	return problems
}

// sharedProblems reports instance id, selected by targets a and b (indexes into
// fleet.Targets), at both targets' select.
func sharedProblems(fleet *manifest.Fleet, a, b int, id string) Problems {
	ta, tb := fleet.Targets[a], fleet.Targets[b]
	both := fmt.Sprintf("targets %s and %s both select this instance", ta.Name, tb.Name)
	if ta.Account != tb.Account {
		both += fmt.Sprintf(" (as account %s and as account %s: one instance, whichever credentials read it)", accountName(ta.Account), accountName(tb.Account))
	}
	var problems Problems
	for _, t := range []manifest.Target{ta, tb} {
		path := fmt.Sprintf("targets[%d].select", t.Index)
		problems = append(problems, &Problem{Pos: fleet.Pos(path), Path: path, Target: t.Name, Instance: id,
			Message: both + "; an instance belongs to one target: write both changes in one target, or narrow a selection"})
	}
	return problems
}

// accountName names a target's account for a message: "default" for the default chain.
func accountName(account string) string {
	if account == "" {
		return "default"
	}
	return account
}

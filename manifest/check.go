package manifest

import (
	"fmt"
	"slices"
	"strings"
)

// check reports what the schema cannot express: unique target names, dependsOn names that
// exist, dependency cycles, and accounts that exist and fit the target's cloud.
func check(f *Fleet, t *tree) Problems {
	var problems Problems
	add := func(ptr, format string, args ...any) {
		problems = append(problems, t.problemAt(ptr, false, fmt.Sprintf(format, args...)))
	}
	// index maps a target's name to its place in f.Targets.
	index := make(map[string]int, len(f.Targets))
	for i, tg := range f.Targets {
		if tg.Name == "" {
			continue
		}
		if first, dup := index[tg.Name]; dup {
			other := f.Targets[first].Index
			add(fmt.Sprintf("/targets/%d/name", tg.Index), "duplicate target name %q (targets[%d] at line %d has it too); rename one",
				tg.Name, other, f.Pos(fmt.Sprintf("targets[%d].name", other)).Line)
			continue
		}
		index[tg.Name] = i
	}
	names := sortedKeys(index)
	for _, tg := range f.Targets {
		for j, dep := range tg.DependsOn {
			if _, ok := index[dep]; !ok {
				add(fmt.Sprintf("/targets/%d/dependsOn/%d", tg.Index, j), "unknown target %q; targets are: %s", dep, strings.Join(names, ", "))
			}
		}
		if tg.Account != "" {
			acct, ok := f.Accounts[tg.Account]
			switch {
			case !ok && len(f.Accounts) == 0:
				add(fmt.Sprintf("/targets/%d/account", tg.Index), "unknown account %q; define it under accounts, or leave account out to use the default credentials", tg.Account)
			case !ok:
				add(fmt.Sprintf("/targets/%d/account", tg.Index), "unknown account %q; accounts are: %s", tg.Account, strings.Join(sortedKeys(f.Accounts), ", "))
			case acct.Cloud != "" && tg.Kind != "" && !strings.HasPrefix(tg.Kind, acct.Cloud+"."):
				add(fmt.Sprintf("/targets/%d/account", tg.Index), "account %q is for %s, but kind %s runs on %s; use an account of that cloud",
					tg.Account, acct.Cloud, tg.Kind, strings.SplitN(tg.Kind, ".", 2)[0])
			}
		}
	}
	cycles(f, index, add)
	checkSecretSources(f, add)
	return problems
}

// cycles finds dependency cycles by depth-first search in file order and reports each once,
// at the dependsOn entry that leaves the cycle's first target (in file order), naming the
// whole cycle: "a -> b -> c -> a".
func cycles(f *Fleet, index map[string]int, add func(ptr, format string, args ...any)) {
	const (
		unvisited = iota
		onStack
		done
	)
	state := make([]int, len(f.Targets))
	var stack []int
	seen := make(map[string]bool)
	var visit func(i int)
	visit = func(i int) {
		state[i] = onStack
		stack = append(stack, i)
		for _, dep := range f.Targets[i].DependsOn {
			j, ok := index[dep]
			if !ok {
				continue
			}
			switch state[j] {
			case unvisited:
				visit(j)
			case onStack:
				k := slices.Index(stack, j)
				cycle := slices.Clone(stack[k:])
				// Start at the target that comes first in the file, so each cycle has one name.
				m := slices.Index(cycle, slices.Min(cycle))
				cycle = append(cycle[m:], cycle[:m]...)
				names := make([]string, 0, len(cycle)+1)
				for _, c := range cycle {
					names = append(names, f.Targets[c].Name)
				}
				names = append(names, names[0])
				key := strings.Join(names, " -> ")
				if seen[key] {
					continue
				}
				seen[key] = true
				from := cycle[0]
				next := f.Targets[cycle[1%len(cycle)]].Name
				entry := slices.Index(f.Targets[from].DependsOn, next)
				add(fmt.Sprintf("/targets/%d/dependsOn/%d", f.Targets[from].Index, entry), "dependency cycle %s; remove one of these dependsOn entries", key)
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
	}
	for i := range f.Targets {
		if state[i] == unvisited && f.Targets[i].Name != "" {
			visit(i)
		}
	}
}

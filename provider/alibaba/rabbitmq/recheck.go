package rabbitmq

import (
	"fmt"
	"maps"
	"slices"

	"github.com/upgradeplan/upgradeplan/provider"
)

// Recheck rebuilds a recorded UpdateInstance from its from and to with the planner's own
// change builder: every field of to is a RabbitMQ field sent at its to value, from names
// the same fields, and ModifyType is what the fields' directions make it (UPGRADE when none
// goes down, DOWNGRADE when none goes up; one call never does both).
func Recheck(_, instance string, c provider.Change) error {
	var changed []planned
	ups, downs := 0, 0
	for _, k := range slices.Sorted(maps.Keys(c.To)) {
		f, ok := fieldByName(k)
		if !ok {
			return fmt.Errorf("to.%s is not a RabbitMQ field", k)
		}
		want, err := f.canonical(c.To[k])
		if err != nil {
			return fmt.Errorf("to.%s: %w", k, err)
		}
		raw, ok := c.From[k]
		if !ok {
			return fmt.Errorf("from.%s is missing; the change needs the current %s", k, k)
		}
		cur, err := f.canonical(raw)
		if err != nil && f.kind == kindEdition {
			cur, err = raw, nil // a pay-as-you-go instance's type is no edition
		}
		if err != nil {
			return fmt.Errorf("from.%s: %w", k, err)
		}
		p := planned{f: f, cur: cur, want: want, dir: f.direction(cur, want)}
		switch {
		case p.dir > 0:
			ups++
		case p.dir < 0:
			downs++
		}
		changed = append(changed, p)
	}
	// The builder lists fields in their declared order, as planChanges does.
	slices.SortFunc(changed, func(a, b planned) int { return fieldIndex(a.f.name) - fieldIndex(b.f.name) })
	if ups == 0 && downs == 0 {
		return fmt.Errorf("from and to are the same; the change does nothing")
	}
	if ups > 0 && downs > 0 {
		return fmt.Errorf("one UpdateInstance raises and lowers fields; the planner makes two calls, the UPGRADE first")
	}
	modify := modifyUp
	if downs > 0 {
		modify = modifyDown
	}
	want := change(instance, modify, changed, func(p planned) any { return p.cur }, func(p planned) any { return p.want }, true)
	return provider.SameChange(want, c)
}

func fieldIndex(name string) int {
	return slices.IndexFunc(fields(), func(f field) bool { return f.name == name })
}

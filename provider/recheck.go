package provider

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// DefaultShortestOperation is the ShortestOperation of a product whose documents name no
// duration: no product upgrades, restarts or reconfigures an instance in under a minute.
const DefaultShortestOperation = time.Minute

// SameChange reports how got (a change read back from a plan file) differs from want (what
// the product builds for it): the action, then every parameter, from and to field, by their
// JSON encoding (so int64(8192) and json.Number("8192") are equal). The error names the
// field and both values, except a parameter's values, which may be secret references the
// reviewer never saw resolved: those are named only.
func SameChange(want, got Change) error {
	if want.Action != got.Action {
		return fmt.Errorf("action %s is not the product's %s", got.Action, want.Action)
	}
	if key, ok := sameMap(want.Params, got.Params); !ok {
		return fmt.Errorf("parameter %s is not what the product sends for this change", key)
	}
	if key, ok := sameMap(want.From, got.From); !ok {
		return fmt.Errorf("from.%s is %s; the change needs %s", key, jsonOf(got.From[key]), jsonOf(want.From[key]))
	}
	if key, ok := sameMap(want.To, got.To); !ok {
		return fmt.Errorf("to.%s is %s; the change leads to %s", key, jsonOf(got.To[key]), jsonOf(want.To[key]))
	}
	return nil
}

// sameMap compares two maps key by key and names the first key (sorted) that differs or
// is only in one of them.
func sameMap[M ~map[string]any](want, got M) (string, bool) {
	keys := slices.Sorted(maps.Keys(want))
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		w, inWant := want[k]
		g, inGot := got[k]
		if inWant != inGot || jsonOf(w) != jsonOf(g) {
			return k, false
		}
	}
	return "", true
}

// jsonOf is v's canonical JSON (map keys sorted, numbers as written).
func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

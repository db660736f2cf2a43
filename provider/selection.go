package provider

import "slices"

// HasTags reports whether an instance's tags carry every tag a selection names, each with
// the selected value. It is the one tag matcher of the providers and the planner.
func HasTags(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Selects reports whether the selection picks an instance with this id and these tags:
// its id is one of IDs (when IDs are given) and it carries every tag of Tags.
func (s Selection) Selects(id string, tags map[string]string) bool {
	if len(s.IDs) > 0 && !slices.Contains(s.IDs, id) {
		return false
	}
	return HasTags(tags, s.Tags)
}

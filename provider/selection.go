package provider

// HasTags reports whether an instance's tags carry every tag a selection names, each with
// the selected value.
func HasTags(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

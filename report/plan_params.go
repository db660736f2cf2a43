package report

import (
	"maps"
	"slices"
	"strings"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// planSends lists the parameter sets a step sends, "Parameters: EcsInstanceType=ecs.g7.large,
// InstancePassword={fromEnv: SI_PASSWORD}", or "" when it sends none. A parameter set is a
// Params entry whose value is a map other than a secret reference (Compute Nest's
// Parameters): from → to shows only what completion observes, so without this the reviewer
// would not see the values the call sends. A secret shows as its reference; the plan holds
// no value.
func planSends(params map[string]any) string {
	found := false
	for _, v := range params {
		if isParamSet(v) {
			found = true
			break
		}
	}
	if !found {
		return "" // most steps: no allocation
	}
	var sets []string
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if !isParamSet(params[k]) {
			continue
		}
		set := params[k].(map[string]any)
		parts := make([]string, 0, len(set))
		for _, name := range slices.Sorted(maps.Keys(set)) {
			parts = append(parts, name+"="+paramText(set[name]))
		}
		sets = append(sets, k+": "+strings.Join(parts, ", "))
	}
	return strings.Join(sets, "; ")
}

func isParamSet(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, isRef := provider.AsSecretRef(m)
	return !isRef
}

// paramText is a parameter's value, or "{fromEnv: NAME}" for a secret.
func paramText(v any) string {
	if ref, ok := provider.AsSecretRef(v); ok {
		return "{fromEnv: " + ref.FromEnv + "}"
	}
	return valueText(v)
}

// kindComputeNest is Compute Nest's provider kind (provider/alibaba/computenest.Kind, not
// imported here so that the reports do not pull in the Alibaba SDK).
const kindComputeNest = "alibaba.computenest"

// planNoChanges follows "No changes." in a plan without steps. It claims only what was
// compared: Compute Nest's parameters are not compared with the instances' live ones and
// are sent only with a serviceVersion upgrade, so an instance at its version gets no step whatever
// the manifest's parameters say.
func planNoChanges(p *planner.Plan, instances int) string {
	for _, t := range p.Targets {
		if t.Kind == kindComputeNest {
			return "Every instance (" + thousands(instances) + ") already matches the manifest in every field upgradeplan compares. " +
				"Compute Nest parameters are not compared: they are only sent with a serviceVersion upgrade."
		}
	}
	return "Every instance (" + thousands(instances) + ") already matches the manifest."
}

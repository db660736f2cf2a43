package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/upgradeplan/upgradeplan/provider"
)

// Notes a reviewer sees on a step.
const (
	NoteLatestMinor = "upgrades the minor version to the latest; the API cannot tell before the call whether it already is, so this step is sent on every apply (a noop when alikafka answers that there is nothing to upgrade)"
	NoteOneWay      = "one-way change: a 2.2.0 instance cannot go back to 0.10.2"
	NoteMinorToo    = "also upgrades the minor version to the latest"
)

var desiredFields = []string{"version", "latestMinor"}

// Plan applies the transition table of UpgradeInstanceVersion:
//
//	0.10.2 → 2.2.0   one call (one-way; lands on the latest minor version)
//	2.2.0  → 0.10.2  rejected: no major downgrade
//	same major       nothing, unless latestMinor: true, then one call every time
func (p *Provider) Plan(_ context.Context, inst provider.Instance, want provider.Desired) ([]provider.Change, error) {
	var errs []error
	for k := range want {
		if !slices.Contains(desiredFields, k) {
			errs = append(errs, &provider.RuleError{Field: k, Message: fmt.Sprintf("%s does not take %q; use version and latestMinor", Kind, k)})
		}
	}
	target, ok := want["version"].(string)
	switch {
	case want["version"] == nil:
		errs = append(errs, &provider.RuleError{Field: "version", Message: `is required: "0.10.2" or "2.2.0"`})
	case !ok || (target != Version0102 && target != Version220):
		errs = append(errs, &provider.RuleError{Field: "version", Message: fmt.Sprintf(`%v is not a Kafka major version UpgradeInstanceVersion accepts; use "0.10.2" or "2.2.0"`, want["version"])})
	}
	latestMinor := false
	if v, present := want["latestMinor"]; present {
		b, isBool := v.(bool)
		if !isBool {
			errs = append(errs, &provider.RuleError{Field: "latestMinor", Message: fmt.Sprintf("%v is not true or false", v)})
		}
		latestMinor = b
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	current, _ := inst.Values["version"].(string)
	if current != Version0102 && current != Version220 {
		return nil, &provider.RuleError{Field: "version", Message: fmt.Sprintf(
			"the instance reports version %q, which is not in UpgradeInstanceVersion's transition table; upgrade it in the console", current)}
	}
	if current == Version220 && target == Version0102 {
		return nil, &provider.RuleError{Field: "version", Message: fmt.Sprintf(
			"the instance runs 2.2.0; UpgradeInstanceVersion cannot downgrade a major version to 0.10.2: set version to \"2.2.0\" or leave this instance out of the selection")}
	}
	params := map[string]any{"InstanceId": inst.ID, "RegionId": p.region, "TargetVersion": target}
	switch {
	case current != target: // 0.10.2 → 2.2.0
		return []provider.Change{{
			Action: ActionUpgrade,
			Params: params,
			From:   provider.Values{"version": current},
			To:     provider.Values{"version": target},
			Notes:  []string{NoteOneWay, NoteMinorToo},
		}}, nil
	case latestMinor:
		return []provider.Change{{
			Action: ActionUpgrade,
			Params: params,
			From:   provider.Values{"version": current},
			// latestMinor marks the step for Observe: it is never done before the call and is
			// done when the instance is running again after it.
			To:    provider.Values{"version": target, "latestMinor": true},
			Notes: []string{NoteLatestMinor},
		}}, nil
	}
	return nil, nil
}

// isMinorStep reports whether a watch is a latestMinor step.
func isMinorStep(to provider.Values) bool {
	b, _ := to["latestMinor"].(bool)
	return b || strings.EqualFold(fmt.Sprint(to["latestMinor"]), "true")
}

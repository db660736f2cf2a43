package computenest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/upgradeplan/upgradeplan/internal/secretname"
	"github.com/upgradeplan/upgradeplan/provider"
)

// secretMessage refuses a literal secret without repeating it.
var secretMessage = "its name says it is secret (it contains one of " + strings.Join(secretname.Words, ", ") +
	", in any case), so it must be {fromEnv: NAME}, read from the environment when the call is made; the value written here is not repeated"

// SecretName reports whether a parameter's name says it holds a secret. The DryRun answer
// names the parameters a version requires but not their types, so the name is what tells
// a password; the rule is secretname's, the one the simulator masks by.
func SecretName(name string) bool { return secretname.Is(name) }

// upgradeChange is the UpgradeServiceInstance Plan builds; Parameters only when there are.
func upgradeChange(id, current, version string, params map[string]any) provider.Change {
	ch := provider.Change{
		Action: ActionUpgrade,
		Params: map[string]any{"ServiceInstanceId": id, "ServiceVersion": version},
		From:   provider.Values{valueVersion: current},
		To:     provider.Values{valueVersion: version},
	}
	if len(params) > 0 {
		ch.Params["Parameters"] = params
	}
	return ch
}

// Recheck rebuilds a recorded upgrade with Plan's builder. Parameters come from the
// manifest, not from from and to, so each is checked instead: a scalar or {fromEnv}, and
// {fromEnv} wherever the name says secret.
func Recheck(_, instance string, c provider.Change) error {
	current, _ := versionString(c.From[valueVersion])
	version, ok := versionString(c.To[valueVersion])
	if !ok || version == "" {
		return fmt.Errorf("to.%s must name the service version", valueVersion)
	}
	if current == version {
		return fmt.Errorf("from and to are the same version %s; the change does nothing", version)
	}
	var params map[string]any
	if raw, has := c.Params["Parameters"]; has {
		m, isMap := raw.(map[string]any)
		if !isMap || len(m) == 0 {
			return fmt.Errorf("parameter Parameters must be a map of parameter names to values")
		}
		params = map[string]any{}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			v := m[k]
			if ref, isRef := provider.AsSecretRef(v); isRef {
				params[k] = ref
				continue
			}
			switch v.(type) {
			case string, bool, int64, float64, json.Number:
			default:
				return fmt.Errorf("parameter Parameters.%s must be a string, a number, a bool or {fromEnv: NAME}", k)
			}
			if SecretName(k) {
				return fmt.Errorf("parameter Parameters.%s: %s", k, secretMessage)
			}
			params[k] = v
		}
	}
	return provider.SameChange(upgradeChange(instance, current, version, params), c)
}

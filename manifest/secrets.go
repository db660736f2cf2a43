package manifest

import (
	"fmt"
	"sort"
	"strings"
)

// CredentialPrefixes are the environment variables the SDKs read the tool's own credentials
// from. A {fromEnv} in desired may not name one: apply would send upgradeplan's access key to
// the product (Compute Nest stores parameters in clear).
var CredentialPrefixes = []string{"ALIBABA_CLOUD_", "TENCENTCLOUD_"}

// CredentialVariable reports why name may not be the source of a desired value: it is one of
// the SDKs' credential variables, or one that accounts (a set of variable names the
// accounts read their key ids and secrets from) use. "" when it may.
func CredentialVariable(name string, accounts map[string]bool) string {
	for _, p := range CredentialPrefixes {
		if strings.HasPrefix(strings.ToUpper(name), p) {
			return fmt.Sprintf("%s is where the SDK reads upgradeplan's own credentials (%s*)", name, p)
		}
	}
	if accounts[name] {
		return fmt.Sprintf("%s holds an account's credentials", name)
	}
	return ""
}

// accountVariables are the variables the fleet's accounts read.
func accountVariables(f *Fleet) map[string]bool {
	out := map[string]bool{}
	for _, a := range f.Accounts {
		for _, ref := range []SecretRef{a.KeyID, a.Secret} {
			if ref.FromEnv != "" {
				out[ref.FromEnv] = true
			}
		}
	}
	return out
}

// checkSecretSources refuses a {fromEnv} in desired that names a credential variable.
func checkSecretSources(f *Fleet, add func(ptr, format string, args ...any)) {
	vars := accountVariables(f)
	for _, tg := range f.Targets {
		walkRefs(tg.Desired, fmt.Sprintf("/targets/%d/desired", tg.Index), func(ptr string, ref SecretRef) {
			if why := CredentialVariable(ref.FromEnv, vars); why != "" {
				add(ptr+"/fromEnv", "%s; a desired value may not come from it: use a variable of its own", why)
			}
		})
	}
}

func walkRefs(v any, ptr string, visit func(string, SecretRef)) {
	switch x := v.(type) {
	case SecretRef:
		visit(ptr, x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walkRefs(x[k], ptr+"/"+escapePointer(k), visit)
		}
	case []any:
		for i, e := range x {
			walkRefs(e, fmt.Sprintf("%s/%d", ptr, i), visit)
		}
	}
}

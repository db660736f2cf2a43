package sim

import (
	"encoding/json"
	"strings"

	"github.com/upgradeplan/upgradeplan/internal/secretname"
)

// Masked is what the call log shows instead of a secret value.
const Masked = "******"

// IsSecretName reports whether a field of the cloud's own API must never be echoed by the
// simulator: its name contains "password" or "secret", in any case (a Password parameter,
// a KMS secret). The API's other fields stay visible even where their names say token or
// key (ClientToken, NextToken, Tag.1.Key, TagKey): the call log exists to show them.
func IsSecretName(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "password") || strings.Contains(n, "secret")
}

// IsSecretParameter reports whether a service parameter, a name inside an object-valued
// parameter such as Compute Nest's Parameters, must never be echoed. The rule is
// secretname's, the one upgradeplan's provider refuses literal values by, so a name the
// product treats as secret (ApiToken, AccessKey) is never shown in clear here either.
func IsSecretParameter(name string) bool { return secretname.Is(name) }

// maskParams returns the parameters with every secret masked: a parameter with a secret
// field name (IsSecretName), and inside a parameter whose value is JSON, every secret
// service parameter (IsSecretParameter: the keys of an object, Compute Nest's Parameters)
// and secret field (IsSecretName: the fields of the structures in a list, Tencent's
// InstanceTags).
func maskParams(params map[string]string) map[string]string {
	out := make(map[string]string, len(params))
	for k, v := range params {
		switch {
		case IsSecretName(k):
			v = Masked
		case strings.HasPrefix(strings.TrimSpace(v), "{") || strings.HasPrefix(strings.TrimSpace(v), "["):
			var doc any
			if json.Unmarshal([]byte(v), &doc) == nil && maskJSON(doc, false) {
				b, _ := json.Marshal(doc)
				v = string(b)
			}
		}
		out[k] = v
	}
	return out
}

// maskJSON masks secret-named keys in place and reports whether it masked any. The keys of
// an object are service parameters unless the object sits in a list (inList), where they
// are the fields of the API's structures.
func maskJSON(v any, inList bool) bool {
	secret := IsSecretParameter
	if inList {
		secret = IsSecretName
	}
	masked := false
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if secret(k) {
				x[k] = Masked
				masked = true
			} else if maskJSON(e, inList) {
				masked = true
			}
		}
	case []any:
		for _, e := range x {
			if maskJSON(e, true) {
				masked = true
			}
		}
	}
	return masked
}

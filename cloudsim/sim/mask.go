package sim

import (
	"encoding/json"
	"strings"
)

// Masked is what the call log shows instead of a secret value.
const Masked = "******"

// IsSecretName reports whether a parameter's value must never be echoed by the
// simulator: its name contains "password" or "secret", in any case (Compute Nest's
// InstancePassword, a KMS secret).
func IsSecretName(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "password") || strings.Contains(n, "secret")
}

// maskParams returns the parameters with every secret masked: a parameter with a secret
// name, and secret-named keys inside a parameter whose value is a JSON object or list
// (Compute Nest's Parameters).
func maskParams(params map[string]string) map[string]string {
	out := make(map[string]string, len(params))
	for k, v := range params {
		switch {
		case IsSecretName(k):
			v = Masked
		case strings.HasPrefix(strings.TrimSpace(v), "{") || strings.HasPrefix(strings.TrimSpace(v), "["):
			var doc any
			if json.Unmarshal([]byte(v), &doc) == nil && maskJSON(doc) {
				b, _ := json.Marshal(doc)
				v = string(b)
			}
		}
		out[k] = v
	}
	return out
}

// maskJSON masks secret-named keys in place and reports whether it masked any.
func maskJSON(v any) bool {
	masked := false
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if IsSecretName(k) {
				x[k] = Masked
				masked = true
			} else if maskJSON(e) {
				masked = true
			}
		}
	case []any:
		for _, e := range x {
			if maskJSON(e) {
				masked = true
			}
		}
	}
	return masked
}

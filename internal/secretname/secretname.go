// Package secretname owns the one rule for telling, from its name alone, that a service
// parameter holds a secret. Compute Nest's DryRun names the parameters a version requires
// but not their types, so upgradeplan's provider refuses a literal value for such a name
// and the simulator masks it in every answer and call log; both read this list, so a name
// one calls secret the other never shows.
//
// It imports nothing, so the simulator can use it without depending on the product.
package secretname

import "strings"

// Words mark a parameter name as secret when the name contains one, in any case.
var Words = []string{"password", "secret", "token", "key"}

// Is reports whether a parameter's name says it holds a secret: it contains one of Words,
// in any case (InstancePassword, ApiToken, AccessKey).
func Is(name string) bool {
	lower := strings.ToLower(name)
	for _, w := range Words {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

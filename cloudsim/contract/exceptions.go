package contract

import "strings"

// An exception is a difference from the current models that is known and kept on
// purpose, each with its reason. Two kinds:
//
//   - pending: the provider still reads the field or value, so removing it belongs to
//     the change that also changes the provider (issue 17, the providers' half, branch
//     i17-prov). Delete the entry with that change; until then the simulator keeps it.
//   - kept: the seed documents or other vendor sources say otherwise and win.
type exception struct {
	product, action, path string
	value                 string // "" = any value at path; else the offending value
	kind, reason          string
}

var exceptions = []exception{
	{"amqp-open", "ListInstances", "Data.Instances[].Status", `"ABNORMAL"`, "pending",
		"not in the model's Status enum (DEPLOYING, EXPIRED, SERVING, RELEASED); the provider classes it as a failure, so replacing it goes with the provider"},
	{"amqp-open", "ListInstances", "Data.Instances[].InstanceType", "", "kept",
		"the current ListInstances doc spells the enum in lower case (since 2026-06-23), but the current GetInstance model and Alibaba's Terraform provider (which reads live answers) use upper case; DIFFERENCES.md 'RabbitMQ InstanceType case'"},
}

// excused reports whether a violation is a recorded exception.
func excused(v Violation) bool {
	for _, e := range exceptions {
		if e.product == v.Product && e.action == v.Action && e.path == v.Path &&
			(e.value == "" || strings.Contains(v.Problem, e.value)) {
			return true
		}
	}
	return false
}

// A seedRule is a product rule where the seed documents (what the product promises its
// users) and the current models disagree: the simulator and the providers follow the
// seed. Shapes are not affected, so Check needs no exception for them; they are listed
// so the disagreement is recorded next to the models, and a test keeps each tied to a
// model that exists.
type seedRule struct {
	product, action string
	model, seed     string
}

var seedRules = []seedRule{
	{"redis", "UpgradeInstance",
		"api.json allows shrinking memory to at least 1.3 × the used size",
		"memory never shrinks: a smaller MemSize is refused with InvalidParameterValue.ReduceCapacityNotAllowed (seed 004, errors.go#ReduceCapacityNotAllowed)"},
}

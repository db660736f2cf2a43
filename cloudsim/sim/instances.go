package sim

import (
	"fmt"
	"net/http"

	"gopkg.in/yaml.v3"
)

// This file holds what every product does with its instances the same way: reading its
// state section, deciding whether a caller may see an instance, and matching tags.

// DecodeInstances decodes a product's state section, a YAML list, into its instance type.
// A nil node (the section is absent) is no instances. A decoding error is prefixed with
// the state key, as the state file names the section.
func DecodeInstances[T any](node *yaml.Node, stateKey string) ([]T, error) {
	if node == nil {
		return nil, nil
	}
	var list []T
	if err := node.Decode(&list); err != nil {
		return nil, fmt.Errorf("%s: %w", stateKey, err)
	}
	return list, nil
}

// Sees reports whether an instance in region, owned by owner ("" = every account of its
// cloud), is visible to the request: the cloud answers only for the caller's account in
// the region it is asked about.
func (r *Request) Sees(region, owner string) bool {
	return region == r.Region && r.Account.Owns(owner)
}

// RequireRegion is the Alibaba gateway's answer to an RPC call without RegionId, for the
// actions that need one.
func RequireRegion(r *Request) error {
	if r.Region == "" {
		return Errorf(http.StatusBadRequest, "MissingRegionId", "RegionId is mandatory for this action.")
	}
	return nil
}

// Tag is one tag filter of a list call.
type Tag struct {
	Key string
	// Value "" matches any value of the key.
	Value string
}

// HasTags reports whether an instance's tags satisfy every filter.
func HasTags(have map[string]string, want []Tag) bool {
	for _, t := range want {
		v, ok := have[t.Key]
		if !ok || (t.Value != "" && v != t.Value) {
			return false
		}
	}
	return true
}

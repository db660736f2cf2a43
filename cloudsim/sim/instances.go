package sim

import (
	"net/http"
)

// This file holds the small pieces of request handling every product shares: whether a
// caller may see an instance, and the region an action needs. The instance table, which
// holds every product's instances, is in table.go.

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

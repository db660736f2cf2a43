package provider

import "sync"

// RegionSize is what a provider remembers of its region's size between reads, to choose
// per Observe between reading the watched instances one by one (an API whose list filters
// by a single id, or a per-id describe) and paging the whole region. It is safe for
// concurrent use; its zero value knows no size.
type RegionSize struct {
	mu    sync.Mutex
	n     int
	known bool
}

// Record notes the number of instances a complete, unfiltered read of the region found.
func (r *RegionSize) Record(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n, r.known = n, true
}

// ByID reports whether byIDCalls calls (reading the watched instances by id) cost no more
// than a region read: listings paged listings of pageSize items each over the last recorded
// size, plus regionExtra calls the region read needs on top (per-instance details the list
// lacks). With no recorded size each listing counts as one page, the least a region read
// can cost, so the answer is by id only where it is cheaper whatever the region holds; the
// region read that follows records the size.
func (r *RegionSize) ByID(byIDCalls, regionExtra, pageSize, listings int) bool {
	return byIDCalls <= r.Pages(pageSize, listings)+regionExtra
}

// Pages is what a region read costs in pages: listings paged listings of pageSize items
// each over the last recorded size, or one page per listing, the least a region read can
// cost, while no size is recorded.
func (r *RegionSize) Pages(pageSize, listings int) int {
	r.mu.Lock()
	n, known := r.n, r.known
	r.mu.Unlock()
	if !known {
		return listings
	}
	// n counts the instances of every listing together: their pages total at most
	// ceil(n/pageSize) plus one partial page for each further listing.
	return max(1, (n+pageSize-1)/pageSize) + listings - 1
}

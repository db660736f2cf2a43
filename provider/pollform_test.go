package provider_test

import (
	"testing"

	"github.com/upgradeplan/upgradeplan/provider"
)

func TestRegionSizeChoosesTheFewerCalls(t *testing.T) {
	var unknown, known provider.RegionSize
	known.Record(500) // 5 pages of 100
	tests := []struct {
		name                            string
		size                            *provider.RegionSize
		byID, extra, pageSize, listings int
		want                            bool
	}{
		{"unknown region: by id only when cheaper than one page per listing", &unknown, 2, 0, 100, 2, true},
		{"unknown region: 3 reads cost more than 2 listings' first pages", &unknown, 3, 0, 100, 2, false},
		{"unknown region: the details a region read needs count", &unknown, 3, 3, 100, 1, true},
		{"3 of 500 by id", &known, 3, 0, 100, 1, true},
		{"500 of 500 by id costs more than 5 pages", &known, 500, 0, 100, 1, false},
		{"two listings add at most one page", &known, 6, 0, 100, 2, true},
		{"two listings add at most one page, not two", &known, 7, 0, 100, 2, false},
	}
	for _, tc := range tests {
		if got := tc.size.ByID(tc.byID, tc.extra, tc.pageSize, tc.listings); got != tc.want {
			t.Errorf("%s: ByID(%d, %d, %d, %d) = %v, want %v", tc.name, tc.byID, tc.extra, tc.pageSize, tc.listings, got, tc.want)
		}
	}
}

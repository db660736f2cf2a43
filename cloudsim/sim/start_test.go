package sim_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

// startServer serves an already built server, for tests that need the product values.
func startServer(t *testing.T, s *sim.Server) *simtest.Sim {
	t.Helper()
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &simtest.Sim{Server: s, Addr: strings.TrimPrefix(hs.URL, "http://"), URL: hs.URL}
}

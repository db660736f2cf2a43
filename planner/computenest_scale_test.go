package planner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/manifest"
	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider/products"
)

// nestChanges is a region of n Deployed Compute Nest instances of two services (svc-a at
// version 2, svc-b at 1), each going to 3, which requires InstancePassword, and the
// fleet that asks for it.
func nestChanges(tb testing.TB, n int) (state string, fleet *manifest.Fleet) {
	tb.Helper()
	for _, k := range []string{"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"} {
		tb.Setenv(k, demoEnv(nil)(k)) // the SDK's default credential chain reads the process environment
	}
	var b strings.Builder
	b.WriteString("accounts:\n  - {name: demo-ali, cloud: alibaba, keyId: demo-ak, secret: demo-sk}\ncomputenest:\n")
	for i := range n {
		service, version := "svc-a", "2"
		if i%2 == 1 {
			service, version = "svc-b", "1"
		}
		fmt.Fprintf(&b, "  - {id: si-%05d, region: cn-hangzhou, account: demo-ali, status: Deployed, tags: {env: demo}, serviceId: %s, version: %q,\n", i, service, version)
		b.WriteString("     parameters: {EcsInstanceType: ecs.g6.large}, versions: {\"1\": {}, \"2\": {required: [EcsInstanceType]}, \"3\": {required: [EcsInstanceType, InstancePassword]}}}\n")
	}
	file := filepath.Join(tb.TempDir(), "fleet.yaml")
	err := os.WriteFile(file, []byte(`apiVersion: upgradeplan/v1
kind: Fleet
metadata: {name: nest}
targets:
  - name: marketplace
    kind: alibaba.computenest
    region: cn-hangzhou
    select: {tags: {env: demo}}
    desired:
      serviceVersion: "3"
      parameters: {EcsInstanceType: ecs.g6.large, InstancePassword: {fromEnv: DEMO_SI_PASSWORD}}
`), 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	if fleet, err = manifest.Load(file); err != nil {
		tb.Fatal(err)
	}
	return b.String(), fleet
}

// planNest plans fleet as `upgradeplan plan` does: through the rate limiter of apply's
// buckets at the default caps.
func planNest(tb testing.TB, s *simtest.Sim, fleet *manifest.Fleet) *planner.Plan {
	tb.Helper()
	reg := products.Registry()
	limiter := executor.NewLimiter(reg, planner.ResolveSettings(fleet.Settings), executor.LimiterOptions{})
	p, err := planner.Build(context.Background(), fleet, reg, planner.Options{Doer: limiter, Getenv: demoEnv(s), Now: time.Now})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// 5,000 Compute Nest changes of two services read the region's pages and one
// GetServiceInstance and one DryRun per (service, from version): 4 calls besides the 50
// pages, not 10,000, so the plan's wall time is the pages' (see the benchmark below).
func TestFiveThousandComputeNestChangesReadOncePerServiceVersion(t *testing.T) {
	state, fleet := nestChanges(t, 5000)
	s := simtest.Start(t, state, sim.Options{TimeScale: 600}, simProducts()...)
	p := planNest(t, s, fleet)
	if len(p.Steps) != 5000 {
		t.Fatalf("%d steps, want 5,000", len(p.Steps))
	}
	counts := map[string]int{}
	for _, c := range s.Calls() {
		if c.Action == "UpgradeServiceInstance" && c.Params["DryRun"] != "true" {
			t.Fatalf("plan sent a real upgrade of %s", c.Params["ServiceInstanceId"])
		}
		counts[c.Action]++
	}
	want := map[string]int{"ListServiceInstances": 50, "GetServiceInstance": 2, "UpgradeServiceInstance": 2}
	for a, n := range want {
		if counts[a] != n {
			t.Errorf("%d %s calls, want %d (all calls: %v)", counts[a], a, n, counts)
		}
	}
}

// BenchmarkPlanFiveThousandComputeNestChanges is the plan of 5,000 Compute Nest changes
// (issue 15: under 10 s wall) at the realistic profile's latency: every request 50–300 ms,
// through the default caps. Its ns/op is the wall time.
func BenchmarkPlanFiveThousandComputeNestChanges(b *testing.B) {
	state, fleet := nestChanges(b, 5000)
	faults := []byte("seed: 15\nlatencies:\n  - {product: \"*\", action: \"*\", min: 50ms, max: 300ms, inbound: 0.3}\n")
	for range b.N {
		b.StopTimer()
		s := simtest.Start(b, state, sim.Options{TimeScale: 600, Faults: faults}, simProducts()...)
		b.StartTimer()
		if p := planNest(b, s, fleet); len(p.Steps) != 5000 {
			b.Fatalf("%d steps, want 5,000", len(p.Steps))
		}
		b.ReportMetric(float64(len(s.Calls())), "calls/op")
	}
}

package sim_test

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	alierrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

func faultSim(t *testing.T, faults string) (*simtest.Sim, *widgets, *widgets) {
	t.Helper()
	w, g := newWidgets(), newGadgets()
	s, err := sim.NewServer([]byte(testState), sim.Options{Faults: []byte(faults), TimeScale: 3600}, w, g)
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, s), w, g
}

func TestErrorFaultsAnswerWithoutReachingTheProduct(t *testing.T) {
	cases := []struct {
		name       string
		fault      string
		wantStatus int    // Alibaba
		wantCode   string // Alibaba
		wantTC     string // Tencent SDK code
	}{
		{"internal-error answers HTTP 500 InternalError", "internal-error", 500, "InternalError", "InternalError"},
		{"unavailable answers HTTP 503 ServiceUnavailable", "unavailable", 503, "ServiceUnavailable", "ServiceUnavailable"},
		{"throttle answers the cloud's throttling error", "throttle", 400, "Throttling.User", "RequestLimitExceeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, w, g := faultSim(t, "rules: [{action: Upgrade, fault: "+tc.fault+"}]")
			_, err := aliCall(t, s, "test-ak", "test-sk", "Upgrade", map[string]string{"InstanceId": "w-1"})
			if err == nil {
				t.Fatal("the Alibaba call succeeded")
			}
			if status, code := aliCode(t, err); status != tc.wantStatus || code != tc.wantCode {
				t.Errorf("Alibaba: HTTP %d %s, want HTTP %d %s", status, code, tc.wantStatus, tc.wantCode)
			}
			_, err = tcCall(t, s, "test-id", "test-key", "Upgrade", map[string]any{"InstanceId": "g-1"})
			if err == nil {
				t.Fatal("the Tencent call succeeded")
			}
			if code := tcCode(t, err); code != tc.wantTC {
				t.Errorf("Tencent: %s, want %s", code, tc.wantTC)
			}
			if w.upgrades+g.upgrades != 0 {
				t.Errorf("the product was called %d times", w.upgrades+g.upgrades)
			}
			for _, c := range s.CallsTo("Upgrade") {
				if c.Fault != tc.fault {
					t.Errorf("call log fault %q, want %q", c.Fault, tc.fault)
				}
			}
			// Reads are not matched by the rule.
			if _, err := aliCall(t, s, "test-ak", "test-sk", "Describe", map[string]string{"InstanceId": "w-1"}); err != nil {
				t.Errorf("an unmatched action failed: %v", err)
			}
		})
	}
}

func TestDropAppliesTheChangeThenClosesTheConnection(t *testing.T) {
	s, w, g := faultSim(t, "rules: [{action: Upgrade, fault: drop}]")
	_, err := aliCall(t, s, "test-ak", "test-sk", "Upgrade", map[string]string{"InstanceId": "w-1"})
	var se *alierrors.ServerError
	if err == nil || errors.As(err, &se) {
		t.Fatalf("Alibaba SDK: %v, want a connection error", err)
	}
	_, err = tcCall(t, s, "test-id", "test-key", "Upgrade", map[string]any{"InstanceId": "g-1"})
	if err == nil || tcCode(t, err) != "ClientError.NetworkError" {
		t.Fatalf("Tencent SDK: %v, want ClientError.NetworkError", err)
	}
	out, err := aliCall(t, s, "test-ak", "test-sk", "Describe", map[string]string{"InstanceId": "w-1"})
	if err != nil || out["Version"] != "upgrading" {
		t.Errorf("after the drop w-1 is %v (%v), want upgrading: the change must be applied", out, err)
	}
	if w.upgrades != 1 || g.upgrades != 1 {
		t.Errorf("products called %d and %d times, want once each", w.upgrades, g.upgrades)
	}
	for _, c := range s.CallsTo("Upgrade") {
		if c.Fault != "drop" || c.Status != 0 || !c.OK() {
			t.Errorf("call log: %+v, want fault drop, status 0, code empty", c)
		}
	}
}

func TestLatencyDelaysOnlyTheMatchingInstance(t *testing.T) {
	s, _, _ := faultSim(t, "rules: [{action: Describe, instance: w-1, fault: latency, latency: 200ms}]")
	timeCall := func(id string) time.Duration {
		start := time.Now()
		if _, err := aliCall(t, s, "test-ak", "test-sk", "Describe", map[string]string{"InstanceId": id}); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	var slow time.Duration
	var wg sync.WaitGroup
	wg.Go(func() { slow = timeCall("w-1") })
	time.Sleep(20 * time.Millisecond) // let the slow call take its latency first
	fast := timeCall("w-2")
	wg.Wait()
	if slow < 200*time.Millisecond {
		t.Errorf("the w-1 call took %s, want at least the 200ms latency", slow)
	}
	if fast >= 150*time.Millisecond {
		t.Errorf("the w-2 call took %s while w-1 slept: latency must not hold the server", fast)
	}
	for _, c := range s.CallsTo("Describe") {
		if want := map[string]string{"w-1": "latency", "w-2": ""}[c.Instance]; c.Fault != want {
			t.Errorf("call log: %s has fault %q, want %q", c.Instance, c.Fault, want)
		}
	}
}

func TestFailUpgradesEndInTheFailedStatus(t *testing.T) {
	clock := newFakeClock()
	w := newWidgets()
	srv, err := sim.NewServer([]byte(testState), sim.Options{Now: clock.Now, Faults: []byte("failUpgrades: [w-2]")}, w, newGadgets())
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, srv)
	for _, id := range []string{"w-1", "w-2"} {
		if _, err := aliCall(t, s, "test-ak", "test-sk", "Upgrade", map[string]string{"InstanceId": id}); err != nil {
			t.Fatalf("upgrade %s: %v", id, err)
		}
	}
	clock.Advance(10 * time.Minute)
	var got map[string]string
	s.Inspect(func() { got = map[string]string{"w-1": w.versions["w-1"], "w-2": w.versions["w-2"]} })
	if got["w-1"] != "2.0" || got["w-2"] != "failed" {
		t.Errorf("after the upgrades: %v, want w-1 2.0 and w-2 failed", got)
	}
}

// outcomes makes n Describe calls and returns their answer codes as one string.
func outcomes(t *testing.T, faults string, n int) string {
	t.Helper()
	s, _, _ := faultSim(t, faults)
	var b strings.Builder
	for range n {
		if _, err := aliCall(t, s, "test-ak", "test-sk", "Describe", map[string]string{"InstanceId": "w-1"}); err != nil {
			b.WriteByte('x')
		} else {
			b.WriteByte('.')
		}
	}
	return b.String()
}

func TestRatedFaultsAreDeterministicForASeed(t *testing.T) {
	rule := "rules: [{action: Describe, rate: 0.3, fault: internal-error}]\n"
	a := outcomes(t, "seed: 7\n"+rule, 100)
	b := outcomes(t, "seed: 7\n"+rule, 100)
	c := outcomes(t, "seed: 8\n"+rule, 100)
	if a != b {
		t.Errorf("the same seed gave different faults:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("seeds 7 and 8 gave the same faults: %s", a)
	}
	if n := strings.Count(a, "x"); n < 15 || n > 45 {
		t.Errorf("%d of 100 calls failed at rate 0.3: %s", n, a)
	}
}

func TestFaultRuleLimits(t *testing.T) {
	cases := []struct {
		name, faults, want string
	}{
		{"times fires a rule only that often", "rules: [{action: Describe, times: 2, fault: internal-error}]", "xx...."},
		{"a rule for another instance never fires", "rules: [{action: Describe, instance: w-2, fault: internal-error}]", "......"},
		{"a rule for another product never fires", "rules: [{product: gadgets, fault: internal-error}]", "......"},
		{"rate 0 never fires", "rules: [{action: Describe, rate: 0, fault: internal-error}]", "......"},
		{"rules are tried in order and the first error rule decides", "rules: [{action: Describe, times: 1, fault: throttle}, {action: Describe, times: 3, fault: internal-error}]", "xxxx.."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := outcomes(t, tc.faults, 6); got != tc.want {
				t.Errorf("answers %s, want %s", got, tc.want)
			}
		})
	}
}

func TestFaultFilesAreValidated(t *testing.T) {
	cases := []struct{ name, faults, want string }{
		{"an unknown kind is refused", "rules: [{fault: explode}]", `unknown fault "explode"`},
		{"a rule without a kind is refused", "rules: [{action: X}]", "fault is missing"},
		{"latency needs a duration", "rules: [{fault: latency}]", "positive latency"},
		{"a rate above 1 is refused", "rules: [{fault: throttle, rate: 1.5}]", "not between 0 and 1"},
		{"an unknown field is refused", "rules: [{fault: throttle, instanceId: x}]", "instanceId"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sim.NewServer([]byte(testState), sim.Options{Faults: []byte(tc.faults)}, newWidgets(), newGadgets())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestTheExampleFaultsFileLoads(t *testing.T) {
	src, err := os.ReadFile("../../examples/sim/faults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.NewServer([]byte(testState), sim.Options{Faults: src}, newWidgets(), newGadgets()); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"internal-error", "unavailable", "throttle", "latency", "drop"} {
		if !strings.Contains(string(src), "fault: "+kind) {
			t.Errorf("the example does not show fault %s", kind)
		}
	}
	if !strings.Contains(string(src), "failUpgrades:") {
		t.Error("the example does not show failUpgrades")
	}
}

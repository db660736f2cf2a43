package sim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

func TestLatenciesAreDrawnPerRequestWithinTheirRange(t *testing.T) {
	s, _, _ := faultSim(t, "seed: 4\nlatencies:\n  - {action: Describe, min: 1ms, max: 6ms, inbound: 0.5}\n")
	for range 20 {
		if _, err := aliCall(t, s, "test-ak", "test-sk", "Describe", map[string]string{"InstanceId": "w-1"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := aliCall(t, s, "test-ak", "test-sk", "Echo", nil); err != nil {
		t.Fatal(err)
	}
	seen := map[time.Duration]bool{}
	for _, c := range s.Server.Calls() {
		if c.Action == "Echo" {
			if c.Latency != 0 {
				t.Errorf("Echo matches no latency rule but took %s", c.Latency)
			}
			continue
		}
		if c.Latency < time.Millisecond || c.Latency > 6*time.Millisecond {
			t.Errorf("a Describe call took %s, want within [1ms, 6ms]", c.Latency)
		}
		seen[c.Latency] = true
	}
	if len(seen) < 10 {
		t.Errorf("20 Describe calls drew only %d distinct latencies: want jitter", len(seen))
	}
}

func TestUpgradeDurationsSpreadPerInstanceAsSpreadDurationSays(t *testing.T) {
	clock := newFakeClock()
	w, g := newWidgets(), newGadgets()
	srv, err := sim.NewServer([]byte(testState), sim.Options{Now: clock.Now, Faults: []byte("seed: 9\ndurationSpread: {widgets: 0.5}\n")}, w, g)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, srv)
	want := map[string]time.Duration{}
	for _, id := range []string{"w-1", "w-2"} {
		want[id] = sim.SpreadDuration(9, "widgets", id, 0, 10*time.Minute, 0.5)
		if d := want[id]; d < 5*time.Minute || d > 15*time.Minute {
			t.Fatalf("%s: drawn %s, want within 10m ± 50%%", id, d)
		}
		if _, err := aliCall(t, s, "test-ak", "test-sk", "Upgrade", map[string]string{"InstanceId": id}); err != nil {
			t.Fatal(err)
		}
	}
	if want["w-1"] == want["w-2"] {
		t.Fatalf("both instances drew %s: want a spread", want["w-1"])
	}
	version := func(id string) string {
		out, err := aliCall(t, s, "test-ak", "test-sk", "Describe", map[string]string{"InstanceId": id})
		if err != nil {
			t.Fatal(err)
		}
		return out["Version"].(string)
	}
	first, second := "w-1", "w-2"
	if want[first] > want[second] {
		first, second = second, first
	}
	clock.Advance(want[first] + time.Millisecond)
	if v := version(first); v != "2.0" {
		t.Errorf("%s after its drawn %s: version %q, want 2.0", first, want[first], v)
	}
	if v := version(second); v != "upgrading" {
		t.Errorf("%s before its drawn %s: version %q, want still upgrading", second, want[second], v)
	}
	clock.Advance(want[second] - want[first])
	if v := version(second); v != "2.0" {
		t.Errorf("%s after its drawn %s: version %q, want 2.0", second, want[second], v)
	}
}

func TestSpreadsAreValidated(t *testing.T) {
	for _, tc := range []struct{ faults, want string }{
		{"latencies: [{min: 300ms, max: 50ms}]", "min ≤ max"},
		{"latencies: [{min: 50ms, max: 300ms, inbound: 2}]", "inbound 2"},
		{"durationSpread: {kafka: 1.5}", "durationSpread: kafka"},
	} {
		_, err := sim.NewServer([]byte(testState), sim.Options{Faults: []byte(tc.faults)}, newWidgets(), newGadgets())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("faults %q: error %v, want one naming %q", tc.faults, err, tc.want)
		}
	}
}

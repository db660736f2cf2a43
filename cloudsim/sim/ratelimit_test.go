package sim_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

// rateSim serves an RPC product named alikafka and a TC3 product named redis, so the
// default caps apply, on a fake clock.
func rateSim(t *testing.T, extraState string) (*simtest.Sim, *simtest.Clock) {
	t.Helper()
	kafka := &widgets{name: "alikafka", proto: string(sim.RPC), version: rpcVersion, key: "widgets"}
	redis := &widgets{name: "redis", proto: string(sim.TC3), version: tc3Version, key: "gadgets"}
	clock := newFakeClock()
	s, err := sim.NewServer([]byte(testState+extraState), sim.Options{Now: clock.Now}, kafka, redis)
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, s), clock
}

// callerFor returns a function making one call of the action as an account, reporting
// the error code ("" for success).
func callerFor(t *testing.T, s *simtest.Sim, proto sim.Protocol, account, action string) func() string {
	return func() string {
		if proto == sim.TC3 {
			_, err := tcCallService(t, s, "redis", "test-id", "test-key", action, nil)
			if err != nil {
				return tcCode(t, err)
			}
			return ""
		}
		ak, sk := "test-ak", "test-sk"
		if account == "ali2" {
			ak, sk = "other-ak", "other-sk"
		}
		_, err := aliCall(t, s, ak, sk, action, nil)
		if err != nil {
			_, code := aliCode(t, err)
			return code
		}
		return ""
	}
}

// checkWindows fails the test if any one-second window of the call log holds more than
// limit accepted calls of the action by the account.
func checkWindows(t *testing.T, calls []sim.CallRecord, account, action string, limit int) {
	t.Helper()
	var accepted []time.Time
	for _, c := range calls {
		if c.Account == account && c.Action == action && c.OK() {
			accepted = append(accepted, c.Time)
		}
	}
	slices.SortFunc(accepted, time.Time.Compare)
	for i, start := range accepted {
		n := 0
		for _, at := range accepted[i:] {
			if at.Before(start.Add(time.Second)) {
				n++
			}
		}
		if n > limit {
			t.Errorf("%d %s calls of %s accepted in the second from %s, cap %d", n, action, account, start.Format("15:04:05.000"), limit)
		}
	}
}

func TestBurstsAtTwiceTheCapAreThrottledAndNeverExceedTheCap(t *testing.T) {
	cases := []struct {
		name      string
		state     string
		proto     sim.Protocol
		action    string
		cap       int
		throttled string
	}{
		{"alikafka UpgradeInstanceVersion is capped at 2 by default", "", sim.RPC, "UpgradeInstanceVersion", 2, "ONS_SYSTEM_FLOW_CONTROL"},
		{"redis UpgradeInstance is capped at 20 by default", "", sim.TC3, "UpgradeInstance", 20, "RequestLimitExceeded"},
		{"redis DescribeInstances is capped at 35 by default", "", sim.TC3, "DescribeInstances", 35, "RequestLimitExceeded"},
		{"the state file caps any other action", "qps: {alikafka/Echo: 5}\n", sim.RPC, "Echo", 5, "ONS_SYSTEM_FLOW_CONTROL"},
		{"the state file overrides a default cap", "qps: {alikafka/UpgradeInstanceVersion: 4}\n", sim.RPC, "UpgradeInstanceVersion", 4, "ONS_SYSTEM_FLOW_CONTROL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, clock := rateSim(t, tc.state)
			account := "ali"
			if tc.proto == sim.TC3 {
				account = "tc"
			}
			call := callerFor(t, s, tc.proto, account, tc.action)
			// Three seconds at twice the cap, evenly spread.
			step := time.Second / time.Duration(2*tc.cap)
			codes := map[string]int{}
			for range 3 * 2 * tc.cap {
				codes[call()]++
				clock.Advance(step)
			}
			if codes[tc.throttled] == 0 {
				t.Errorf("no call was throttled with %s: %v", tc.throttled, codes)
			}
			if len(codes) != 2 {
				t.Errorf("answers other than success and %s: %v", tc.throttled, codes)
			}
			// Accepted: about the cap per second, never more in any window.
			if ok := codes[""]; ok < 3*tc.cap-1 || ok > 3*tc.cap+1 {
				t.Errorf("%d calls accepted over three seconds at cap %d", ok, tc.cap)
			}
			checkWindows(t, s.Calls(), account, tc.action, tc.cap)
		})
	}
}

func TestRateCapsAreCountedPerAccountAndPerAction(t *testing.T) {
	s, _ := rateSim(t, "")
	first := callerFor(t, s, sim.RPC, "ali", "UpgradeInstanceVersion")
	second := callerFor(t, s, sim.RPC, "ali2", "UpgradeInstanceVersion")
	other := callerFor(t, s, sim.RPC, "ali", "Echo")
	got := []string{first(), first(), first(), second(), second(), second()}
	want := []string{"", "", "ONS_SYSTEM_FLOW_CONTROL", "", "", "ONS_SYSTEM_FLOW_CONTROL"} // alikafka's throttle
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("answers %q, want %q", got, want)
	}
	for i := range 50 {
		if code := other(); code != "" {
			t.Fatalf("uncapped Echo call %d answered %s", i, code)
		}
	}
}

func TestARefusedCallDoesNotCountTowardTheWindow(t *testing.T) {
	s, clock := rateSim(t, "")
	call := callerFor(t, s, sim.RPC, "ali", "UpgradeInstanceVersion")
	// 0 ms: two accepted. 600 ms: refused, and must not hold the window at 1000-1600 ms.
	got := []string{call(), call()}
	clock.Advance(600 * time.Millisecond)
	got = append(got, call(), call())
	clock.Advance(401 * time.Millisecond)
	got = append(got, call(), call(), call())
	// alikafka's rate cap answers its own throttle, ONS_SYSTEM_FLOW_CONTROL.
	want := []string{"", "", "ONS_SYSTEM_FLOW_CONTROL", "ONS_SYSTEM_FLOW_CONTROL", "", "", "ONS_SYSTEM_FLOW_CONTROL"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("answers %q, want %q", got, want)
	}
}

func TestAConcurrentBurstOfRealSDKCallsAcceptsExactlyTheCap(t *testing.T) {
	// Real clock: 40 concurrent calls at cap 20 finish well inside one second.
	redis := &widgets{name: "redis", proto: string(sim.TC3), version: tc3Version, key: "gadgets"}
	s := simtest.Start(t, testState, sim.Options{}, newWidgets(), redis)
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() { _, _ = tcCallService(t, s, "redis", "test-id", "test-key", "UpgradeInstance", nil) })
	}
	wg.Wait()
	calls := s.CallsTo("UpgradeInstance")
	if ok, limited := s.CountOK("UpgradeInstance"), s.CountCode("UpgradeInstance", "RequestLimitExceeded"); len(calls) != 40 || ok+limited != 40 || limited == 0 || ok > 20 {
		t.Errorf("%d calls: %d accepted, %d throttled", len(calls), ok, limited)
	}
	checkWindows(t, calls, "tc", "UpgradeInstance", 20)
}

package sim_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

// lagSim starts the test products with extra state-file lines, a faults file and a fake
// clock at the given time scale.
func lagSim(t *testing.T, extraState, faults string, scale float64) (*simtest.Sim, *simtest.Clock) {
	t.Helper()
	clock := newFakeClock()
	s, err := sim.NewServer([]byte(testState+extraState), sim.Options{Now: clock.Now, TimeScale: scale, Faults: []byte(faults)}, newWidgets(), newGadgets())
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, s), clock
}

// widget describes one widget with the real Alibaba SDK and returns its version.
func widget(t *testing.T, s *simtest.Sim, id string) string {
	t.Helper()
	out, err := aliCall(t, s, "test-ak", "test-sk", "Describe", map[string]string{"InstanceId": id})
	if err != nil {
		t.Fatal(err)
	}
	return out["Version"].(string)
}

// gadget describes one gadget with the real Tencent SDK and returns its version.
func gadget(t *testing.T, s *simtest.Sim, id string) string {
	t.Helper()
	out, err := tcCall(t, s, "test-id", "test-key", "Describe", map[string]any{"InstanceId": id})
	if err != nil {
		t.Fatal(err)
	}
	return out["Version"].(string)
}

func upgrade(t *testing.T, s *simtest.Sim, id string) error {
	t.Helper()
	if strings.HasPrefix(id, "g-") {
		_, err := tcCall(t, s, "test-id", "test-key", "Upgrade", map[string]any{"InstanceId": id})
		return err
	}
	_, err := aliCall(t, s, "test-ak", "test-sk", "Upgrade", map[string]string{"InstanceId": id})
	return err
}

// appliedOverHTTP reads GET /_sim/applied as a client would.
func appliedOverHTTP(t *testing.T, s *simtest.Sim) []sim.AppliedChange {
	t.Helper()
	resp, err := http.Get(s.URL + "/_sim/applied")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []sim.AppliedChange
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAnAcceptedChangeIsInvisibleUntilTheLagHasPassed(t *testing.T) {
	// 60s of lag at scale 60 is one real second; the widgets upgrade takes 10m (10s real).
	s, clock := lagSim(t, "visibilityLag: {widgets: 60s, gadgets: 60s}\n", "", 60)
	for _, id := range []string{"w-1", "g-1"} {
		if err := upgrade(t, s, id); err != nil {
			t.Fatalf("upgrade %s: %v", id, err)
		}
	}
	if w, g := widget(t, s, "w-1"), gadget(t, s, "g-1"); w != "1.0" || g != "1.0" {
		t.Fatalf("right after the accepted calls: w-1 %s, g-1 %s; want both still 1.0", w, g)
	}
	clock.Advance(999 * time.Millisecond)
	if w, g := widget(t, s, "w-1"), gadget(t, s, "g-1"); w != "1.0" || g != "1.0" {
		t.Fatalf("just before the lag ends: w-1 %s, g-1 %s; want both still 1.0", w, g)
	}
	clock.Advance(time.Millisecond)
	if w, g := widget(t, s, "w-1"), gadget(t, s, "g-1"); w != "upgrading" || g != "upgrading" {
		t.Fatalf("once the lag passed: w-1 %s, g-1 %s; want both upgrading", w, g)
	}
	// The upgrade's duration counts from the moment it became visible.
	clock.Advance(10*time.Second - time.Millisecond)
	if w := widget(t, s, "w-1"); w != "upgrading" {
		t.Fatalf("10m after accepting (lag not yet made up): %s, want upgrading", w)
	}
	clock.Advance(time.Millisecond)
	if w := widget(t, s, "w-1"); w != "2.0" {
		t.Fatalf("lag + 10m after accepting: %s, want 2.0", w)
	}
	applied := appliedOverHTTP(t, s)
	if len(applied) != 2 {
		t.Fatalf("applied record: %+v, want the two upgrades", applied)
	}
	calls := s.CallsTo("Upgrade")
	for i, a := range applied {
		if a.RequestID != calls[i].RequestID || a.Action != "Upgrade" || a.Actor != "" || a.Dropped {
			t.Errorf("applied[%d] = %+v, want the call %s, answered", i, a, calls[i].RequestID)
		}
		if a.VisibleAt.Sub(a.AcceptedAt) != time.Minute {
			t.Errorf("applied[%d] becomes visible %s after acceptance, want the 60s lag", i, a.VisibleAt.Sub(a.AcceptedAt))
		}
		if a.From["version"] != "1.0" || a.To["version"] != "2.0" {
			t.Errorf("applied[%d] changes %v to %v, want 1.0 to 2.0", i, a.From, a.To)
		}
	}
}

func TestASecondCallDuringTheLagIsJudgedOnTheOldStateAndAppliedAgain(t *testing.T) {
	s, _ := lagSim(t, "visibilityLag: {widgets: 2s}\n", "", 1)
	for range 2 {
		if err := upgrade(t, s, "w-1"); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(s.Applied()); got != 2 {
		t.Errorf("%d applied changes, want 2: the repeat is not deduplicated", got)
	}
}

func TestWithoutLagAChangeIsVisibleAtOnce(t *testing.T) {
	s, _ := lagSim(t, "", "", 1)
	if err := upgrade(t, s, "w-1"); err != nil {
		t.Fatal(err)
	}
	if v := widget(t, s, "w-1"); v != "upgrading" {
		t.Errorf("right after the call: %s, want upgrading", v)
	}
}

func TestALagFaultAddsToTheProductLag(t *testing.T) {
	s, clock := lagSim(t, "visibilityLag: {widgets: 10s}\n", "rules: [{action: Upgrade, instance: w-1, fault: lag, lag: 20s}]", 1)
	for _, id := range []string{"w-1", "w-2"} {
		if err := upgrade(t, s, id); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(10 * time.Second)
	if w1, w2 := widget(t, s, "w-1"), widget(t, s, "w-2"); w1 != "1.0" || w2 != "upgrading" {
		t.Fatalf("after 10s: w-1 %s (want 1.0), w-2 %s (want upgrading)", w1, w2)
	}
	clock.Advance(20 * time.Second)
	if w1 := widget(t, s, "w-1"); w1 != "upgrading" {
		t.Fatalf("after 30s: w-1 %s, want upgrading", w1)
	}
	if c := s.CallsTo("Upgrade")[0]; c.Fault != "lag" {
		t.Errorf("call log fault %q, want lag", c.Fault)
	}
}

func TestLostAnswersAreMarkedInTheAppliedRecord(t *testing.T) {
	cases := []struct {
		name, faults string
		wantApplied  bool
		wantCode     string // "" for a dropped connection
	}{
		{"a drop applies the change and loses the answer", "rules: [{action: Upgrade, fault: drop}]", true, ""},
		{"internal-error with apply makes the change, then answers 500", "rules: [{action: Upgrade, fault: internal-error, apply: true}]", true, "InternalError"},
		{"unavailable with apply makes the change, then answers 503", "rules: [{action: Upgrade, fault: unavailable, apply: true}]", true, "ServiceUnavailable"},
		{"an error rule with after: accept makes the change, then answers its code", "rules: [{action: Upgrade, fault: error, code: Conflict.Busy, status: 409, after: accept}]", true, "Conflict.Busy"},
		{"internal-error alone changes nothing", "rules: [{action: Upgrade, fault: internal-error}]", false, "InternalError"},
		{"an error rule alone changes nothing", "rules: [{action: Upgrade, fault: error, code: Forbidden.RAM, status: 403}]", false, "Forbidden.RAM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := lagSim(t, "", tc.faults, 1)
			err := upgrade(t, s, "w-1")
			if err == nil {
				t.Fatal("the call succeeded")
			}
			if tc.wantCode != "" {
				if _, code := aliCode(t, err); code != tc.wantCode {
					t.Errorf("answer %s, want %s", code, tc.wantCode)
				}
			}
			applied := s.Applied()
			if !tc.wantApplied {
				if len(applied) != 0 || widget(t, s, "w-1") != "1.0" {
					t.Errorf("applied %+v, want nothing", applied)
				}
				return
			}
			if len(applied) != 1 || !applied[0].Dropped || applied[0].RequestID != s.CallsTo("Upgrade")[0].RequestID {
				t.Fatalf("applied %+v, want one change marked dropped with the call's request id", applied)
			}
			if v := widget(t, s, "w-1"); v != "upgrading" {
				t.Errorf("w-1 is %s, want upgrading: the change was made", v)
			}
		})
	}
}

func TestActorsChangeInstancesUnderThePlan(t *testing.T) {
	faults := `actors:
  - {name: oncall, at: 30s, instance: w-1, set: {version: "3.0"}}
  - {at: 30s, instance: w-2, set: {version: "3.0"}}
`
	s, clock := lagSim(t, "visibilityLag: {widgets: 5s}\n", faults, 1)
	// w-2 is upgrading when its actor comes: the actor leaves it alone.
	if err := upgrade(t, s, "w-2"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(29 * time.Second)
	if v := widget(t, s, "w-1"); v != "1.0" {
		t.Fatalf("before the actor: %s", v)
	}
	clock.Advance(4 * time.Second)
	if v := widget(t, s, "w-1"); v != "1.0" {
		t.Fatalf("during the lag after the actor: %s, want 1.0", v)
	}
	clock.Advance(2 * time.Second)
	if v := widget(t, s, "w-1"); v != "3.0" {
		t.Fatalf("after the actor and the lag: %s, want 3.0", v)
	}
	applied := appliedOverHTTP(t, s)
	if len(applied) != 2 {
		t.Fatalf("applied %+v, want the API upgrade of w-2 and the actor's change of w-1", applied)
	}
	a := applied[1]
	if a.Actor != "oncall" || a.Instance != "w-1" || a.RequestID != "" || a.Action != "" || a.From["version"] != "1.0" || a.To["version"] != "3.0" {
		t.Errorf("the actor's change is recorded as %+v", a)
	}
	if applied[0].Actor != "" || applied[0].Instance != "w-2" {
		t.Errorf("the API change is recorded as %+v", applied[0])
	}
}

func TestLagsAndActorsAreValidated(t *testing.T) {
	cases := []struct{ name, state, faults, want string }{
		{"a visibility lag that is not a Go duration", "visibilityLag: {widgets: soon}\n", "", `visibility lag of "widgets"`},
		{"a lag fault needs a lag", "", "rules: [{fault: lag}]", "positive lag"},
		{"lag belongs to lag faults", "", "rules: [{fault: drop, lag: 1s}]", "lag is only for fault: lag"},
		{"apply belongs to error faults", "", "rules: [{fault: throttle, apply: true}]", "apply is only for"},
		{"an actor's instance must exist", "", "actors: [{at: 1s, instance: w-9, set: {version: x}}]", `instance "w-9"`},
		{"an actor needs fields to set", "", "actors: [{at: 1s, instance: w-1}]", "set are required"},
		{"an actor's fields are the product's", "", "actors: [{at: 1s, instance: w-1, set: {colour: red}}]", "only a version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sim.NewServer([]byte(testState+tc.state), sim.Options{Faults: []byte(tc.faults)}, newWidgets(), newGadgets())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestActAtSchedulesAnActorWhileTheServerRuns(t *testing.T) {
	s, clock := lagSim(t, "", "", 1)
	if err := s.ActAt("late", s.Now().Add(time.Minute), "g-1", map[string]any{"version": "9.0"}); err != nil {
		t.Fatal(err)
	}
	if err := s.ActAt("nobody", s.Now(), "x-1", map[string]any{"version": "9.0"}); err == nil {
		t.Error("an actor of an unknown instance was scheduled")
	}
	clock.Advance(time.Minute)
	if v := gadget(t, s, "g-1"); v != "9.0" {
		t.Errorf("after the actor's time: %s, want 9.0", v)
	}
}

package sim_test

import (
	"strings"
	"testing"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// An error rule answers any action with any code, HTTP status and message: on Alibaba as
// its error body with the status, on Tencent as Response.Error; the product is not called.
func TestAnErrorRuleAnswersAnyCodeStatusAndMessage(t *testing.T) {
	s, w, g := faultSim(t, `rules:
  - {action: Upgrade, fault: error, code: Forbidden.RAM, status: 403, message: "User not authorized to operate on the specified resource."}
`)
	_, err := aliCall(t, s, "test-ak", "test-sk", "Upgrade", map[string]string{"InstanceId": "w-1"})
	if status, code := aliCode(t, err); status != 403 || code != "Forbidden.RAM" || !strings.Contains(err.Error(), "not authorized") {
		t.Errorf("Alibaba: HTTP %d %s (%v), want HTTP 403 Forbidden.RAM with the message", status, code, err)
	}
	_, err = tcCall(t, s, "test-id", "test-key", "Upgrade", map[string]any{"InstanceId": "g-1"})
	if code := tcCode(t, err); code != "Forbidden.RAM" {
		t.Errorf("Tencent: %s, want Forbidden.RAM", code)
	}
	if w.upgrades+g.upgrades != 0 {
		t.Errorf("the product was called %d times", w.upgrades+g.upgrades)
	}
	for _, c := range s.CallsTo("Upgrade") {
		if c.Code != "Forbidden.RAM" || c.Fault != string(sim.FaultError) {
			t.Errorf("call log %+v, want code Forbidden.RAM and fault error", c)
		}
	}
}

// after: accept runs the action, so the change is made, and then answers the error.
func TestAnErrorRuleAfterAcceptMakesTheChangeThenRefuses(t *testing.T) {
	s, w, _ := faultSim(t, "rules: [{action: Upgrade, fault: error, code: InternalError, status: 500, after: accept}]")
	_, err := aliCall(t, s, "test-ak", "test-sk", "Upgrade", map[string]string{"InstanceId": "w-1"})
	if status, code := aliCode(t, err); status != 500 || code != "InternalError" {
		t.Errorf("HTTP %d %s, want HTTP 500 InternalError", status, code)
	}
	if w.upgrades != 1 {
		t.Errorf("the product made %d changes, want 1 (accepted, then failed)", w.upgrades)
	}
}

// Status 200 on RPC is the HTTP 200 {"Success": false} refusal, a numeric Code written as
// a JSON number.
func TestAnErrorRuleWithStatus200IsASuccessFalseBody(t *testing.T) {
	s, _, _ := faultSim(t, `rules: [{action: Upgrade, fault: error, code: "500", status: 200}]`)
	body, err := aliCall(t, s, "test-ak", "test-sk", "Upgrade", map[string]string{"InstanceId": "w-1"})
	if err != nil {
		t.Fatal(err)
	}
	if body["Success"] != false || body["Code"] != float64(500) {
		t.Errorf("body %v, want Success false and Code the number 500", body)
	}
	if c := s.CallsTo("Upgrade")[0]; c.Code != "500" || c.Status != 200 {
		t.Errorf("call log %+v, want status 200 code 500 (a refusal, not an accepted call)", c)
	}
}

func TestAnErrorRuleIsChecked(t *testing.T) {
	good := "rules: [{action: Upgrade, fault: error, code: X, status: 409, message: m, after: accept}]"
	if _, err := sim.NewServer([]byte(testState), sim.Options{Faults: []byte(good)}, newWidgets(), newGadgets()); err != nil {
		t.Fatalf("a well-formed error rule was refused: %v", err)
	}
	for _, bad := range []string{
		"rules: [{action: Upgrade, fault: error}]",
		"rules: [{action: Upgrade, fault: error, code: X, status: 99}]",
		"rules: [{action: Upgrade, fault: error, code: X, after: later}]",
		"rules: [{action: Upgrade, fault: internal-error, code: X}]",
	} {
		if _, err := sim.NewServer([]byte(testState), sim.Options{Faults: []byte(bad)}, newWidgets(), newGadgets()); err == nil {
			t.Errorf("faults %q were accepted", bad)
		}
	}
}

package reliability

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// faultMix answers 10% of all calls, reads and upgrades alike, with 503 ServiceUnavailable,
// 5% with the cloud's throttling error and 2% by applying the call and then dropping the
// connection (the rates below are conditional on the earlier rules not firing). A Kafka and
// a Redis upgrade are certainly dropped once, and so is plan's dry run of si-rel-007.
const faultMix = `seed: 20261128
rules:
  - {product: alikafka, action: UpgradeInstanceVersion, instance: alikafka-rel-005, times: 1, fault: drop}
  - {product: computenestsupplier, action: UpgradeServiceInstance, instance: si-rel-007, times: 1, fault: drop}
  - {product: redis, action: UpgradeInstance, instance: crs-rel-003, times: 1, fault: drop}
  - {fault: unavailable, rate: 0.10}
  - {fault: throttle, rate: 0.0556}
  - {fault: drop, rate: 0.0235}
`

// With every fifth call failing in one of the three ways, plan and apply of a 200-instance
// fleet still complete: every step succeeded, each change was made by exactly one accepted
// upgrade call (an upgrade whose answer was lost is followed, never sent again), and run.json
// counts the throttles the cloud answered.
func TestFaultMixCompletesWithOneUpgradePerChange(t *testing.T) {
	f := each(40)
	s := startSim(t, simState(f), faultMix, 200)
	dir := t.TempDir()
	env := cliEnv(s)
	planPath, p := planFleet(t, dir, env, fleetManifest(f, 32, "50ms", 400))
	planned := len(s.Calls())

	r := cli(t, dir, env, "apply", planPath, "--out", "run")
	if r.code != 0 {
		t.Errorf("apply under the fault mix: want exit 0, got %s", firstLines(r, 30))
	}
	rec := readRecord(t, filepath.Join(dir, "run"))
	checkAllSucceeded(t, p, rec)
	calls := s.Calls()
	checkOneUpgradePerChange(t, p, calls)
	checkNoRefusedUpgrades(t, calls, func(c sim.CallRecord) bool {
		return c.Fault == string(sim.FaultUnavailable) || c.Fault == string(sim.FaultThrottle)
	})

	// The faults did happen, to reads and upgrades alike.
	applied := calls[planned:]
	count := map[string]int{}
	throttled := 0
	for _, c := range applied {
		kind := "read"
		if mutatingActions[c.Action] {
			kind = "upgrade"
		}
		if c.Fault != "" {
			count[kind+" "+c.Fault]++
		}
		if c.Code == "Throttling.User" || c.Code == "RequestLimitExceeded" || c.Code == "ONS_SYSTEM_FLOW_CONTROL" { // alikafka throttles with its own code
			throttled++
		}
	}
	t.Logf("%d calls during apply; faults: %v", len(applied), count)
	for _, k := range []string{"read unavailable", "read throttle", "upgrade unavailable", "upgrade throttle", "upgrade drop"} {
		if count[k] == 0 {
			t.Errorf("no %s fault happened during apply; the test does not exercise it (faults seen: %v)", k, count)
		}
	}

	// A dropped upgrade was followed, not resent: its step made one call and succeeded.
	dropped := map[string]bool{}
	for _, c := range applied {
		if mutatingActions[c.Action] && c.Fault == string(sim.FaultDrop) {
			dropped[c.Instance] = true
		}
	}
	planDropped := false
	for _, c := range calls[:planned] {
		planDropped = planDropped || c.Instance == "si-rel-007" && c.Fault == string(sim.FaultDrop) && c.Params["DryRun"] == "true"
	}
	if !planDropped {
		t.Error("plan's dry run of si-rel-007 was not dropped as the faults file says")
	}
	for _, id := range []string{"alikafka-rel-005", "crs-rel-003"} {
		if !dropped[id] {
			t.Errorf("the upgrade of %s was not dropped as the faults file says", id)
		}
	}
	var resent []string
	for id := range dropped {
		var after []string
		drops := 0
		for _, c := range applied {
			if c.Instance != id || !mutatingActions[c.Action] {
				continue
			}
			if c.Fault == string(sim.FaultDrop) {
				drops++
			}
			after = append(after, fmt.Sprintf("%s=%s%s", c.Action, orOK(c.Code), faultNote(c.Fault)))
		}
		if upgradesByInstance(applied)[id] != stepsByInstance(p)[id] {
			resent = append(resent, id+": "+strings.Join(after, ", "))
		}
	}
	sort.Strings(resent)
	if len(resent) > 0 {
		t.Errorf("instances upgraded again after a dropped answer:\n%s", strings.Join(resent, "\n"))
	}

	// The record's throttle counts are what the cloud answered.
	recorded := 0
	for _, b := range rec.Buckets {
		recorded += b.Throttles
	}
	if recorded != throttled {
		t.Errorf("run.json counts %d throttles, the cloud answered %d throttling errors during apply", recorded, throttled)
	}
}

func orOK(code string) string {
	if code == "" {
		return "ok"
	}
	return code
}

func faultNote(f string) string {
	if f == "" {
		return ""
	}
	return " (" + f + ")"
}

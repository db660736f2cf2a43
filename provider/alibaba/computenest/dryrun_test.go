package computenest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/upgradeplan/upgradeplan/provider"
)

// twoServices renders n Deployed instances, alternating between two services: svc-a at
// version 2 and svc-b at version 1, both upgradable to 3, which requires InstancePassword.
// The last instance given as busy is Upgrading.
func twoServices(n int, busy string) string {
	var b strings.Builder
	for i := range n {
		id, service, version := fmt.Sprintf("si-%05d", i), "svc-a", "2"
		if i%2 == 1 {
			service, version = "svc-b", "1"
		}
		status := "Deployed"
		if id == busy {
			status = "Upgrading"
		}
		fmt.Fprintf(&b, `  - id: %s
    region: %s
    account: ali-test
    serviceId: %s
    status: %s
    version: "%s"
    parameters: {EcsInstanceType: ecs.g6.large}
    versions:
      "1": {}
      "2": {required: [EcsInstanceType]}
      "3": {required: [EcsInstanceType, InstancePassword]}
`, id, region, service, status, version)
	}
	return b.String()
}

// planAll plans every instance of the region to version 3 with want, as the planner does
// (concurrently), and returns the changes and errors by instance id.
func planAll(tb testing.TB, p *Provider, want provider.Desired) (map[string][]provider.Change, map[string]error) {
	tb.Helper()
	ctx := context.Background()
	insts, err := p.List(ctx, provider.Selection{})
	if err != nil {
		tb.Fatal(err)
	}
	changes := make([][]provider.Change, len(insts))
	errs := make([]error, len(insts))
	var eg errgroup.Group
	eg.SetLimit(64)
	for i, inst := range insts {
		eg.Go(func() error {
			changes[i], errs[i] = p.Plan(ctx, inst, want)
			return nil
		})
	}
	_ = eg.Wait()
	byID, errByID := map[string][]provider.Change{}, map[string]error{}
	for i, inst := range insts {
		byID[inst.ID] = changes[i]
		if errs[i] != nil {
			errByID[inst.ID] = errs[i]
		}
	}
	return byID, errByID
}

// 5,000 changes of 2 services plan with one GetServiceInstance per (service, from) and
// one DryRun per (service, from, to, parameter names): 2 each, not 5,000; every instance
// still gets its change.
func TestPlanSendsOneDryRunPerServiceAndVersionPair(t *testing.T) {
	s, p := start(t, twoServices(5000, ""), "", map[string]string{"SI_PASSWORD": secret})
	want := provider.Desired{"serviceVersion": "3", "parameters": map[string]any{
		"EcsInstanceType": "ecs.g6.large", "InstancePassword": map[string]any{"fromEnv": "SI_PASSWORD"}}}
	changes, errs := planAll(t, p, want)
	if len(errs) > 0 {
		for id, err := range errs {
			t.Fatalf("%s: %v (and %d more)", id, err, len(errs)-1)
		}
	}
	for id, ch := range changes {
		if len(ch) != 1 || ch[0].To[valueVersion] != "3" {
			t.Fatalf("%s: %+v, want one change to version 3", id, ch)
		}
	}
	var dry []string
	for _, c := range s.CallsTo(ActionUpgrade) {
		if c.Params["DryRun"] == "true" {
			dry = append(dry, c.Params["ServiceInstanceId"])
		} else {
			t.Errorf("plan sent a real upgrade of %s", c.Params["ServiceInstanceId"])
		}
	}
	if n := len(dry); n != 2 {
		t.Errorf("%d DryRuns for 5,000 changes of 2 services, want 2", n)
	}
	if n := s.Count(actionGet); n != 2 {
		t.Errorf("%d GetServiceInstance reads for 5,000 changes of 2 services at one version each, want 2", n)
	}
}

// A manifest that lacks a required parameter is refused for every instance of the key, not
// only the one whose DryRun answered; an instance that is not Deployed gets its own DryRun
// (the API's answer depends on its status), whose refusal is its own.
func TestSharedDryRunAnswersRefuseEveryInstanceAndABusyOneAsksItself(t *testing.T) {
	s, p := start(t, twoServices(40, "si-00004"), "", nil)
	want := provider.Desired{"serviceVersion": "3", "parameters": map[string]any{"EcsInstanceType": "ecs.g6.large"}}
	_, errs := planAll(t, p, want)
	if len(errs) != 40 {
		t.Errorf("%d of 40 instances refused, want all (InstancePassword is missing)", len(errs))
	}
	for id, err := range errs {
		msg := err.Error()
		if id == "si-00004" {
			if !strings.Contains(msg, "CurrentStatusNotSupportOperation") {
				t.Errorf("%s (Upgrading): %v, want its own DryRun's refusal", id, err)
			}
			continue
		}
		if !strings.Contains(msg, "InstancePassword") || !strings.Contains(msg, id) {
			t.Errorf("%s: %v, want the missing InstancePassword named for it", id, err)
		}
	}
	if n := s.Count(ActionUpgrade); n != 3 {
		t.Errorf("%d DryRuns, want 3 (one per service, one for the Upgrading instance)", n)
	}
}

// The wall time of 5,000 changes at realistic latency through the default caps is
// planner's BenchmarkPlanFiveThousandComputeNestChanges.

// The DryRun names the target version's required parameters the instance does not have
// yet, so two instances of one service and versions with the same manifest parameters can
// get different answers: one that already has EcsInstanceType and one that lacks it. The
// one that lacks it is refused at plan time whichever asked first, never planned on the
// other's answer and refused by the cloud at apply.
func TestInstancesWithOtherParametersDoNotShareADryRun(t *testing.T) {
	inst := func(id, params string) string {
		return fmt.Sprintf(`  - id: %s
    region: %s
    account: ali-test
    serviceId: svc-a
    status: Deployed
    version: "2"
    parameters: %s
    versions:
      "2": {}
      "3": {required: [EcsInstanceType, InstancePassword]}
`, id, region, params)
	}
	state := inst("si-has", "{EcsInstanceType: ecs.g6.large}") + inst("si-lacks", "{Other: x}")
	want := provider.Desired{"serviceVersion": "3", "parameters": map[string]any{"InstancePassword": map[string]any{"fromEnv": "SI_PASSWORD"}}}
	ctx := t.Context()
	s, p := start(t, state, "", map[string]string{"SI_PASSWORD": secret})
	if ch, err := p.Plan(ctx, one(t, p, "si-has"), want); err != nil || len(ch) != 1 {
		t.Fatalf("si-has, which has EcsInstanceType: %v %v; want its change", ch, err)
	}
	ch, err := p.Plan(ctx, one(t, p, "si-lacks"), want)
	if err == nil || !strings.Contains(err.Error(), "add EcsInstanceType to parameters") {
		t.Errorf("si-lacks, planned after si-has: %v %v; want refused, lacking EcsInstanceType", ch, err)
	}
	if n := s.Count(ActionUpgrade); n != 2 {
		t.Errorf("%d DryRuns; want one per instance, their parameters differing", n)
	}
}

package computenest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	simcn "github.com/upgradeplan/upgradeplan/cloudsim/computenest"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
)

const region = "cn-hangzhou"

// secret is the password the tests pass through {fromEnv: SI_PASSWORD}; it has characters
// that URL and JSON encodings change, so a leak in any encoding is caught.
const secret = `pa55 w0rd+*~"/`

const accounts = `accounts:
  - {name: ali-test, cloud: alibaba, keyId: test-ak, secret: test-sk}
  - {name: ali-other, cloud: alibaba, keyId: other-ak, secret: other-sk}
`

// serviceInstance renders one instance at version 2 with 3 and 4 upgradable; version 3
// newly requires InstancePassword, version 4 also AdminUser.
func serviceInstance(id, status, tags string) string {
	return fmt.Sprintf(`  - id: %s
    region: %s
    account: ali-test
    status: %s
    tags: %s
    version: "2"
    parameters: {EcsInstanceType: ecs.g6.large}
    versions:
      "1": {}
      "2": {required: [EcsInstanceType]}
      "3": {required: [EcsInstanceType, InstancePassword]}
      "4": {required: [EcsInstanceType, InstancePassword, AdminUser]}
`, id, region, status, tags)
}

func start(t testing.TB, instances, faults string, env map[string]string) (*simtest.Sim, *Provider) {
	t.Helper()
	state := accounts + "durations: {computenest: 60s}\ncomputenest:\n" + instances
	s := simtest.Start(t, state, sim.Options{TimeScale: 3600, Faults: []byte(faults)}, simcn.New())
	return s, open(t, s.Addr, env)
}

func open(t testing.TB, addr string, env map[string]string) *Provider {
	t.Helper()
	all := map[string]string{"UPGRADEPLAN_ALIBABA_ENDPOINT": addr, "T_AK": "test-ak", "T_SK": "test-sk"}
	maps.Copy(all, env)
	p, err := New(provider.Config{
		Region:  region,
		Account: provider.Account{Name: "ali-test", KeyID: provider.SecretRef{FromEnv: "T_AK"}, Secret: provider.SecretRef{FromEnv: "T_SK"}},
		Getenv:  providertest.Getenv(all),
		Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func one(t *testing.T, p *Provider, id string) provider.Instance {
	t.Helper()
	got, err := p.List(context.Background(), provider.Selection{IDs: []string{id}})
	if err != nil || len(got) != 1 {
		t.Fatalf("List(%s) = %v, %v; want one instance", id, got, err)
	}
	return got[0]
}

func TestListPagesAndFilters(t *testing.T) {
	var insts strings.Builder
	for i := range 230 {
		tier := "gold"
		if i%3 == 0 {
			tier = "silver"
		}
		insts.WriteString(serviceInstance(fmt.Sprintf("si-%03d", i), "Deployed", "{env: test, tier: "+tier+"}"))
	}
	insts.WriteString("  - {id: si-other-region, region: cn-beijing, version: \"1\"}\n")
	insts.WriteString("  - {id: si-other-account, region: cn-hangzhou, account: ali-other, version: \"1\"}\n")
	s, p := start(t, insts.String(), "", nil)
	ctx := context.Background()

	all, err := p.List(ctx, provider.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 230 {
		t.Fatalf("List = %d instances, want the account's 230 in the region", len(all))
	}
	for i, inst := range all {
		if inst.ID != fmt.Sprintf("si-%03d", i) {
			t.Fatalf("instance %d is %s: each must come once, sorted", i, inst.ID)
		}
	}
	if n := s.Count("ListServiceInstances"); n != 3 {
		t.Errorf("230 instances took %d calls, want 3 pages of 100", n)
	}
	want := provider.Values{"serviceVersion": "2", "serviceId": "service-000", "parameterNames": "EcsInstanceType", "templateName": ""}
	if !reflect.DeepEqual(all[0].Values, want) || all[0].Phase != provider.PhaseReady || all[0].Tags["tier"] != "silver" {
		t.Errorf("si-000 = %+v, want values %v, ready, tier silver", all[0], want)
	}

	before := s.Count("ListServiceInstances")
	silver, err := p.List(ctx, provider.Selection{Tags: map[string]string{"tier": "silver"}})
	if err != nil || len(silver) != 77 {
		t.Errorf("tier=silver: %d instances, %v; want 77", len(silver), err)
	}
	last := s.CallsTo("ListServiceInstances")
	if got := last[len(last)-1].Params; got["Tag.1.Key"] != "tier" || got["Tag.1.Value"] != "silver" {
		t.Errorf("the tag selection was sent as %v, want Tag.1.Key/Value", got)
	}
	if n := s.Count("ListServiceInstances") - before; n != 1 {
		t.Errorf("a tag selection of 77 took %d calls, want 1", n)
	}

	var ids []string
	for i := 0; i < 25; i++ {
		ids = append(ids, fmt.Sprintf("si-%03d", i*3))
	}
	ids = append(ids, "si-999")
	before = s.Count("ListServiceInstances")
	byID, err := p.List(ctx, provider.Selection{IDs: ids, Tags: map[string]string{"tier": "silver"}})
	if err != nil || len(byID) != 25 {
		t.Errorf("25 known ids and one unknown: %d instances, %v; want 25", len(byID), err)
	}
	if n := s.Count("ListServiceInstances") - before; n != 3 {
		t.Errorf("26 ids took %d calls, want 3 (at most 10 values per filter)", n)
	}
	for _, c := range s.CallsTo("ListServiceInstances")[before:] {
		if c.Params["Filter.1.Name"] != "ServiceInstanceId" || c.Params["Filter.1.Value.1"] == "" {
			t.Errorf("an id selection was sent as %v, want a ServiceInstanceId filter", c.Params)
		}
	}
}

func TestPlanFollowsTheProductRules(t *testing.T) {
	_, p := start(t, serviceInstance("si-1", "Deployed", "{env: test}"), "", map[string]string{"SI_PASSWORD": secret})
	_, pNoEnv := start(t, serviceInstance("si-1", "Deployed", "{env: test}"), "", nil)
	pw := provider.SecretRef{FromEnv: "SI_PASSWORD"}
	tests := []struct {
		name    string
		prov    *Provider
		desired provider.Desired
		params  map[string]any // nil: no change
		err     string
	}{
		{
			name:    "an upgradable version with every required parameter is one upgrade",
			prov:    p,
			desired: provider.Desired{"serviceVersion": "3", "parameters": map[string]any{"EcsInstanceType": "ecs.g7.large", "InstancePassword": pw}},
			params:  map[string]any{"ServiceInstanceId": "si-1", "ServiceVersion": "3", "Parameters": map[string]any{"EcsInstanceType": "ecs.g7.large", "InstancePassword": pw}},
		},
		{
			name:    "a secret whose variable is unset still counts as supplied",
			prov:    pNoEnv,
			desired: provider.Desired{"serviceVersion": "3", "parameters": map[string]any{"InstancePassword": pw}},
			params:  map[string]any{"ServiceInstanceId": "si-1", "ServiceVersion": "3", "Parameters": map[string]any{"InstancePassword": pw}},
		},
		{
			name:    "a version written as a number is the same version",
			prov:    p,
			desired: provider.Desired{"serviceVersion": int64(2)},
		},
		{
			name:    "a version that is not upgradable is rejected",
			prov:    p,
			desired: provider.Desired{"serviceVersion": "1"},
			err:     `serviceVersion: "1" is not an upgradable version of si-1 (at version "2"; upgradable: 3, 4)`,
		},
		{
			name:    "a missing required parameter is named",
			prov:    p,
			desired: provider.Desired{"serviceVersion": "3", "parameters": map[string]any{"EcsInstanceType": "ecs.g7.large"}},
			err:     "parameters: service version 3 of si-1 requires a parameter, which the manifest lacks: add InstancePassword to parameters",
		},
		{
			name:    "every missing required parameter is named",
			prov:    p,
			desired: provider.Desired{"serviceVersion": "4"},
			err:     "parameters: service version 4 of si-1 requires 2 parameters, which the manifest lacks: add AdminUser, InstancePassword to parameters",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			changes, err := tc.prov.Plan(context.Background(), one(t, tc.prov, "si-1"), tc.desired)
			if tc.err != "" {
				var re *provider.RuleError
				if err == nil || err.Error() != tc.err || !asRule(err, &re) {
					t.Fatalf("Plan = %v, %v; want the rule error %q", changes, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if tc.params == nil {
				if len(changes) != 0 {
					t.Fatalf("Plan = %+v, want no change", changes)
				}
				return
			}
			if len(changes) != 1 || changes[0].Action != "UpgradeServiceInstance" || !reflect.DeepEqual(changes[0].Params, tc.params) {
				t.Fatalf("Plan = %+v, want one UpgradeServiceInstance with %v", changes, tc.params)
			}
			if changes[0].To["serviceVersion"] != tc.params["ServiceVersion"] {
				t.Errorf("to = %v, want the new version", changes[0].To)
			}
		})
	}
}

func asRule(err error, re **provider.RuleError) bool {
	r, ok := err.(*provider.RuleError)
	*re = r
	return ok
}

// ListServiceInstances does not say which versions an instance can upgrade to (the current
// model has no Service.UpgradableServiceVersions there): Plan reads them with one
// GetServiceInstance, only for an instance whose version changes.
func TestPlanReadsUpgradableVersionsOnlyWhereTheVersionChanges(t *testing.T) {
	s, p := start(t, serviceInstance("si-1", "Deployed", "{}")+serviceInstance("si-2", "Deployed", "{}"), "", map[string]string{"PW": "x"})
	ctx := context.Background()
	for _, c := range s.CallsTo("ListServiceInstances") {
		t.Fatalf("unexpected list before the test: %v", c)
	}
	insts, err := p.List(ctx, provider.Selection{})
	if err != nil || len(insts) != 2 {
		t.Fatalf("List = %v, %v", insts, err)
	}
	if n := s.Count("GetServiceInstance"); n != 0 {
		t.Errorf("List sent %d GetServiceInstance, want none", n)
	}
	// At the desired version already: nothing to read.
	if ch, err := p.Plan(ctx, insts[0], provider.Desired{"serviceVersion": "2"}); err != nil || len(ch) != 0 {
		t.Fatalf("Plan at the current version = %v, %v; want no change", ch, err)
	}
	if n := s.Count("GetServiceInstance"); n != 0 {
		t.Errorf("a plan with nothing to change sent %d GetServiceInstance, want none", n)
	}
	ch, err := p.Plan(ctx, insts[1], provider.Desired{"serviceVersion": "3",
		"parameters": map[string]any{"InstancePassword": provider.SecretRef{FromEnv: "PW"}}})
	if err != nil || len(ch) != 1 {
		t.Fatalf("Plan to an upgradable version = %v, %v; want one change", ch, err)
	}
	gets := s.CallsTo("GetServiceInstance")
	if len(gets) != 1 || gets[0].Instance != "si-2" || gets[0].Region != region || !gets[0].OK() {
		t.Errorf("GetServiceInstance calls %+v, want one accepted call for si-2 in %s", gets, region)
	}
}

func TestPlanSendsADryRunThatChangesNothing(t *testing.T) {
	s, p := start(t, serviceInstance("si-1", "Deployed", "{env: test}"), "", map[string]string{"SI_PASSWORD": secret})
	_, err := p.Plan(context.Background(), one(t, p, "si-1"), provider.Desired{"serviceVersion": "3",
		"parameters": map[string]any{"InstancePassword": provider.SecretRef{FromEnv: "SI_PASSWORD"}}})
	if err != nil {
		t.Fatal(err)
	}
	calls := s.CallsTo("UpgradeServiceInstance")
	if len(calls) != 1 || calls[0].Params["DryRun"] != "true" || calls[0].Params["ClientToken"] != "" {
		t.Fatalf("upgrade calls %+v, want one DryRun=true without a ClientToken", calls)
	}
	var sent map[string]string
	if err := json.Unmarshal([]byte(calls[0].Unmasked("Parameters")), &sent); err != nil || sent["InstancePassword"] != secret {
		t.Errorf("the dry run carried Parameters %q, want the resolved password", calls[0].Params["Parameters"])
	}
	if got := one(t, p, "si-1"); got.Status != "Deployed" || got.Values["serviceVersion"] != "2" {
		t.Errorf("after the dry run: %+v, want still Deployed at 2", got)
	}
}

func TestSimulatorRefusesWhatPlanRejects(t *testing.T) {
	_, p := start(t, serviceInstance("si-1", "Deployed", "{env: test}")+serviceInstance("si-busy", "Upgrading", "{}"), "", nil)
	tests := []struct {
		name     string
		instance string
		params   map[string]any
		code     string
	}{
		{"a version that is not upgradable", "si-1", map[string]any{"ServiceVersion": "1"}, "InvalidParameter.ServiceVersion"},
		{"a missing required parameter", "si-1", map[string]any{"ServiceVersion": "3", "Parameters": map[string]any{"EcsInstanceType": "x"}}, "MissingParameter.Parameters"},
		{"an instance that is upgrading", "si-busy", map[string]any{"ServiceVersion": "3"}, "CurrentStatusNotSupportOperation"},
		{"an unknown instance", "si-nope", map[string]any{"ServiceVersion": "3"}, "EntityNotExist.ServiceInstance"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Apply(context.Background(), provider.Call{Instance: tc.instance, Action: "UpgradeServiceInstance", Params: tc.params})
			pe, ok := provider.AsError(err)
			if !ok || pe.Code != tc.code || pe.Class != provider.ClassPermanent || pe.RequestID == "" || pe.Instance != tc.instance {
				t.Fatalf("Apply = %v, want a permanent %s with a request id naming %s", err, tc.code, tc.instance)
			}
		})
	}
	_, err := p.Apply(context.Background(), provider.Call{Instance: "si-1", Action: "UpgradeServiceInstance",
		Params: map[string]any{"ServiceVersion": "3", "Parameters": map[string]any{"EcsInstanceType": "x"}}})
	if !strings.Contains(err.Error(), "InstancePassword") {
		t.Errorf("the refusal %q does not name the missing parameter", err)
	}
}

func upgrades(t *testing.T, s *simtest.Sim, id string) int {
	t.Helper()
	raw, err := s.State()
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]json.RawMessage
	var insts []struct {
		ID       string `json:"id"`
		Upgrades int    `json:"upgrades"`
	}
	if err := json.Unmarshal(raw, &state); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(state["computenest"], &insts); err != nil {
		t.Fatal(err)
	}
	for _, in := range insts {
		if in.ID == id {
			return in.Upgrades
		}
	}
	t.Fatalf("no instance %s in the simulator state", id)
	return 0
}

func waitFor(t *testing.T, p *Provider, w provider.Watch, want provider.State) provider.Progress {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := p.Observe(context.Background(), []provider.Watch{w})
		if err != nil {
			t.Fatalf("Observe: %v", err)
		}
		if got[0].State == want {
			return got[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("Observe(%s) stayed %s (%s), want %s", w.Instance, got[0].State, got[0].Message, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestObserveStates(t *testing.T) {
	insts := serviceInstance("si-ok", "Deployed", "{}") + serviceInstance("si-fail", "Deployed", "{}") +
		serviceInstance("si-busy", "Upgrading", "{}") + serviceInstance("si-rb", "DeployedFailed", "{}")
	s, p := start(t, insts, "failUpgrades: [si-fail]\n", map[string]string{"PW": "x"})
	ctx := context.Background()
	from, to := provider.Values{"serviceVersion": "2"}, provider.Values{"serviceVersion": "3"}
	got, err := p.Observe(ctx, []provider.Watch{
		{Instance: "si-ok", From: from, To: to},
		{Instance: "si-ok", From: provider.Values{"serviceVersion": "1"}, To: to},
		{Instance: "si-ok", From: provider.Values{"serviceVersion": "1"}, To: from},
		{Instance: "si-busy", From: from, To: to},
		{Instance: "si-rb", From: from, To: to, Started: true},
		{Instance: "si-gone", From: from, To: to},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.State{provider.StatePending, provider.StateDrifted, provider.StateDone, provider.StateWaiting, provider.StateFailed, provider.StateMissing}
	for i, w := range want {
		if got[i].State != w {
			t.Errorf("watch %d (%s): %s %q, want %s", i, got[i].Instance, got[i].State, got[i].Message, w)
		}
	}
	if n := s.Count("ListServiceInstances"); n != 1 {
		t.Errorf("observing 6 watches took %d list calls, want 1", n)
	}

	params := map[string]any{"ServiceVersion": "3", "Parameters": map[string]any{"InstancePassword": provider.SecretRef{FromEnv: "PW"}}}
	if _, err := p.Apply(ctx, provider.Call{Instance: "si-fail", Action: "UpgradeServiceInstance", Params: params}); err != nil {
		t.Fatal(err)
	}
	failed := waitFor(t, p, provider.Watch{Instance: "si-fail", From: from, To: to, Started: true}, provider.StateFailed)
	if failed.Status != "DeployedFailed" {
		t.Errorf("failed upgrade status %q, want DeployedFailed", failed.Status)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	tests := []struct {
		name   string
		faults string
		class  provider.Class
		code   string
	}{
		{"an internal error is retryable", "rules: [{product: computenestsupplier, action: ListServiceInstances, fault: internal-error}]", provider.ClassRetryable, "InternalError"},
		{"a 503 is retryable", "rules: [{product: computenestsupplier, action: ListServiceInstances, fault: unavailable}]", provider.ClassRetryable, "ServiceUnavailable"},
		{"throttling is throttled", "rules: [{product: computenestsupplier, action: ListServiceInstances, fault: throttle}]", provider.ClassThrottled, "Throttling.User"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, p := start(t, serviceInstance("si-1", "Deployed", "{}"), tc.faults, nil)
			_, err := p.List(context.Background(), provider.Selection{})
			if pe, ok := provider.AsError(err); !ok || pe.Class != tc.class || pe.Code != tc.code || pe.Kind != Kind {
				t.Fatalf("List: %v, want class %s code %s", err, tc.class, tc.code)
			}
		})
	}
	t.Run("a dropped upgrade's outcome is unknown and it was applied", func(t *testing.T) {
		s, p := start(t, serviceInstance("si-1", "Deployed", "{}"), "rules: [{product: computenestsupplier, action: UpgradeServiceInstance, fault: drop}]", map[string]string{"PW": "x"})
		_, err := p.Apply(context.Background(), provider.Call{Instance: "si-1", Action: "UpgradeServiceInstance",
			Params: map[string]any{"ServiceVersion": "3", "Parameters": map[string]any{"InstancePassword": provider.SecretRef{FromEnv: "PW"}}}})
		if provider.ClassOf(err) != provider.ClassUnknown {
			t.Fatalf("dropped call: %v, want outcome-unknown", err)
		}
		if upgrades(t, s, "si-1") != 1 {
			t.Error("the simulator did not apply the dropped call")
		}
	})
}

func TestConcurrentCallsThroughOneProvider(t *testing.T) {
	var insts strings.Builder
	for i := range 20 {
		insts.WriteString(serviceInstance(fmt.Sprintf("si-%02d", i), "Deployed", "{}"))
	}
	s, p := start(t, insts.String(), "", map[string]string{"PW": "x"})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		id := fmt.Sprintf("si-%02d", i)
		wg.Add(2)
		go func() {
			defer wg.Done()
			want := provider.Desired{"serviceVersion": "3", "parameters": map[string]any{"InstancePassword": provider.SecretRef{FromEnv: "PW"}}}
			changes, err := p.Plan(ctx, one(t, p, id), want)
			if err == nil {
				_, err = p.Apply(ctx, provider.Call{Instance: id, Action: changes[0].Action, Params: changes[0].Params, ClientToken: "t-" + id})
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := p.Observe(ctx, []provider.Watch{{Instance: id, To: provider.Values{"serviceVersion": "3"}}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := s.CountOK("UpgradeServiceInstance"); n != 40 {
		t.Errorf("%d upgrade calls succeeded, want 40 (20 dry runs, 20 upgrades)", n)
	}
}

func TestEveryRequestGoesThroughTheDoer(t *testing.T) {
	s := simtest.Start(t, accounts+"computenest:\n"+serviceInstance("si-1", "Deployed", "{}"), sim.Options{TimeScale: 3600}, simcn.New())
	doer := &providertest.Recorder{}
	env := map[string]string{"UPGRADEPLAN_ALIBABA_ENDPOINT": s.Addr, "T_AK": "test-ak", "T_SK": "test-sk", "PW": "x"}
	p, err := New(provider.Config{Region: region, Doer: doer, Getenv: providertest.Getenv(env),
		Account: provider.Account{Name: "ali-test", KeyID: provider.SecretRef{FromEnv: "T_AK"}, Secret: provider.SecretRef{FromEnv: "T_SK"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	changes, err := p.Plan(ctx, one(t, p, "si-1"), provider.Desired{"serviceVersion": "3",
		"parameters": map[string]any{"InstancePassword": provider.SecretRef{FromEnv: "PW"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(ctx, provider.Call{Instance: "si-1", Action: changes[0].Action, Params: changes[0].Params, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(ctx, provider.Call{Instance: "si-1", Action: changes[0].Action, Params: changes[0].Params}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, req := range doer.Requests() {
		got = append(got, fmt.Sprintf("%s %s mutating=%v %s", req.Kind, req.Action, req.Mutating, req.Instance))
	}
	want := []string{
		"alibaba.computenest ListServiceInstances mutating=false ",
		"alibaba.computenest GetServiceInstance mutating=false ",         // plan: upgradable versions
		"alibaba.computenest UpgradeServiceInstance mutating=false si-1", // plan's DryRun
		"alibaba.computenest UpgradeServiceInstance mutating=false si-1", // apply --dry-run
		"alibaba.computenest UpgradeServiceInstance mutating=true si-1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the Doer saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(s.Calls()); n != len(got) {
		t.Errorf("the simulator received %d calls, the Doer saw %d", n, len(got))
	}
	if upgrades(t, s, "si-1") != 1 {
		t.Error("want exactly one real upgrade (the dry runs change nothing)")
	}
}

package computenest_test

// These tests drive the simulated computenestsupplier API with the real Alibaba SDK.

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	cn "github.com/aliyun/alibaba-cloud-sdk-go/services/computenestsupplier"

	"github.com/upgradeplan/upgradeplan/cloudsim/computenest"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

const accounts = "accounts:\n  - {name: demo-ali, cloud: alibaba, keyId: demo-ak, secret: demo-sk}\n"

type env struct {
	sim    *simtest.Sim
	client *cn.Client
	clock  *simtest.Clock
}

func start(t *testing.T, state, faults string) env {
	t.Helper()
	c := simtest.NewClock(time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC))
	s := simtest.Start(t, state, sim.Options{Now: c.Now, Faults: []byte(faults)}, computenest.New())
	client, err := cn.NewClientWithAccessKey("cn-hangzhou", "demo-ak", "demo-sk")
	if err != nil {
		t.Fatal(err)
	}
	client.SetNoProxy(s.Addr)
	return env{sim: s, client: client, clock: c}
}

func (e env) at(req requests.AcsRequest) {
	req.SetDomain(e.sim.Addr)
	req.SetScheme("HTTP")
}

func (e env) list(t *testing.T, req *cn.ListServiceInstancesRequest) *cn.ListServiceInstancesResponse {
	t.Helper()
	e.at(req)
	resp, err := e.client.ListServiceInstances(req)
	if err != nil {
		t.Fatalf("ListServiceInstances: %v", err)
	}
	return resp
}

// get calls GetServiceInstance.
func (e env) get(t *testing.T, id string) *cn.GetServiceInstanceResponse {
	t.Helper()
	req := cn.CreateGetServiceInstanceRequest()
	e.at(req)
	req.ServiceInstanceId = id
	got, err := e.client.GetServiceInstance(req)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (e env) upgrade(id, version, params, dryRun, token string) (*cn.UpgradeServiceInstanceResponse, error) {
	req := cn.CreateUpgradeServiceInstanceRequest()
	e.at(req)
	req.ServiceInstanceId, req.ServiceVersion, req.Parameters, req.DryRun, req.ClientToken = id, version, params, dryRun, token
	return e.client.UpgradeServiceInstance(req)
}

func code(err error) string {
	if se, ok := err.(*errors.ServerError); ok {
		return se.ErrorCode()
	}
	return fmt.Sprint(err)
}

const two = `computenest:
  - id: si-1
    region: cn-hangzhou
    tags: {env: demo}
    version: "2"
    parameters: {EcsInstanceType: ecs.g6.large, DbPassword: old-secret}
    versions:
      "2": {required: [EcsInstanceType]}
      "3": {required: [EcsInstanceType, InstancePassword]}
      "10": {required: [AdminUser]}
  - {id: si-2, region: cn-hangzhou, status: Upgrading, version: "1", tags: {env: prod}}
`

func TestListServiceInstancesPagesFiltersAndDecodes(t *testing.T) {
	var b strings.Builder
	b.WriteString(accounts + "computenest:\n")
	for i := range 7 {
		fmt.Fprintf(&b, "  - {id: si-%d, region: cn-hangzhou, version: \"1\", tags: {env: demo, n: \"%d\"}}\n", i, i%2)
	}
	b.WriteString("  - {id: si-bj, region: cn-beijing, version: \"1\"}\n")
	e := start(t, b.String(), "")

	var ids []string
	token := ""
	for pages := 1; ; pages++ {
		req := cn.CreateListServiceInstancesRequest()
		req.MaxResults = requests.NewInteger(3)
		req.NextToken = token
		resp := e.list(t, req)
		for _, si := range resp.ServiceInstances {
			ids = append(ids, si.ServiceInstanceId)
		}
		if resp.NextToken == "" {
			if pages != 3 {
				t.Errorf("7 instances in pages of 3 took %d pages, want 3", pages)
			}
			break
		}
		token = resp.NextToken
	}
	if got := strings.Join(ids, ","); got != "si-0,si-1,si-2,si-3,si-4,si-5,si-6" {
		t.Errorf("pages returned %s, want every cn-hangzhou instance once", got)
	}

	req := cn.CreateListServiceInstancesRequest()
	req.Filter = &[]cn.ListServiceInstancesFilter{{Name: "ServiceInstanceId", Value: &[]string{"si-1", "si-2", "si-3"}}}
	req.Tag = &[]cn.ListServiceInstancesTag{{Key: "n", Value: "1"}}
	resp := e.list(t, req)
	if len(resp.ServiceInstances) != 2 || resp.ServiceInstances[0].ServiceInstanceId != "si-1" || resp.ServiceInstances[1].ServiceInstanceId != "si-3" {
		t.Errorf("ids si-1..3 with tag n=1 returned %+v, want si-1 and si-3", resp.ServiceInstances)
	}

	eleven := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"}
	req = cn.CreateListServiceInstancesRequest()
	e.at(req)
	req.Filter = &[]cn.ListServiceInstancesFilter{{Name: "ServiceInstanceId", Value: &eleven}}
	if _, err := e.client.ListServiceInstances(req); code(err) != "InvalidParameter.Filter" {
		t.Errorf("11 filter values: %v, want InvalidParameter.Filter", err)
	}
}

func TestServiceInstanceFieldsAndSecretsInAnswers(t *testing.T) {
	e := start(t, accounts+two, "")
	got := e.get(t, "si-1")
	if got.Status != "Deployed" || got.Service.Version != "2" || strings.Join(got.Service.UpgradableServiceVersions, ",") != "3,10" ||
		len(got.Tags) != 1 || got.Tags[0].Key != "env" {
		t.Errorf("GetServiceInstance decoded %s %s %v %v", got.Status, got.Service.Version, got.Service.UpgradableServiceVersions, got.Tags)
	}
	if strings.Contains(got.Parameters, "old-secret") || !strings.Contains(got.Parameters, "ecs.g6.large") {
		t.Errorf("Parameters %s: want the instance type and the password masked", got.Parameters)
	}
	state, _ := e.sim.State()
	if strings.Contains(string(state), "old-secret") {
		t.Errorf("/_sim/state shows a password: %s", state)
	}
	req := cn.CreateGetServiceInstanceRequest()
	e.at(req)
	req.ServiceInstanceId = "si-nope"
	if _, err := e.client.GetServiceInstance(req); code(err) != "EntityNotExist.ServiceInstance" {
		t.Errorf("unknown instance: %v, want EntityNotExist.ServiceInstance", err)
	}
}

func TestUpgradeServiceInstanceRules(t *testing.T) {
	e := start(t, accounts+two, "")
	dry, err := e.upgrade("si-1", "3", "", "true", "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(dry.UpgradeRequiredParameters, ",") != "InstancePassword" || dry.RequestId == "" {
		t.Errorf("dry run answered %v, want UpgradeRequiredParameters [InstancePassword] (EcsInstanceType is already set)", dry.UpgradeRequiredParameters)
	}
	tests := []struct {
		name, id, version, params, code string
	}{
		{"an older version", "si-1", "1", "", "InvalidParameter.ServiceVersion"},
		{"a required parameter missing", "si-1", "3", `{"EcsInstanceType":"x"}`, "MissingParameter.Parameters"},
		{"parameters that are not JSON", "si-1", "3", `{`, "InvalidParameter.Parameters"},
		{"an instance that is upgrading", "si-2", "3", "", "CurrentStatusNotSupportOperation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.upgrade(tc.id, tc.version, tc.params, "false", ""); code(err) != tc.code {
				t.Errorf("upgrade: %v, want %s", err, tc.code)
			}
		})
	}
	if _, err := e.upgrade("si-1", "3", `{"EcsInstanceType":"x"}`, "false", ""); !strings.Contains(err.Error(), "InstancePassword") {
		t.Errorf("the refusal %v does not name InstancePassword", err)
	}
	if got := upgrades(t, e, "si-1"); got != 0 {
		t.Errorf("a dry run and refusals upgraded the instance %d times", got)
	}
}

func TestUpgradeLifecycleAndClientToken(t *testing.T) {
	e := start(t, accounts+"durations: {computenest: 20m}\n"+two, "")
	params := `{"InstancePassword":"pw"}`
	first, err := e.upgrade("si-1", "3", params, "false", "tok-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.upgrade("si-1", "3", params, "false", "tok-1")
	if err != nil || again.Status != first.Status || again.ServiceInstanceId != "si-1" {
		t.Errorf("the same token again: %+v, %v; want the first answer", again, err)
	}
	if _, err := e.upgrade("si-1", "10", params, "false", "tok-1"); code(err) != "IdempotentParameterMismatch" {
		t.Errorf("the same token with another version: %v, want IdempotentParameterMismatch", err)
	}
	if n := upgrades(t, e, "si-1"); n != 1 {
		t.Errorf("%d upgrades, want exactly one", n)
	}
	status := func() (string, string) {
		got := e.get(t, "si-1")
		return got.Status, got.Service.Version
	}
	if s, v := status(); s != "Upgrading" || v != "2" {
		t.Errorf("right after: %s at %s, want Upgrading at 2", s, v)
	}
	e.clock.Advance(20 * time.Minute)
	if s, v := status(); s != "Deployed" || v != "3" {
		t.Errorf("after 20 minutes: %s at %s, want Deployed at 3", s, v)
	}
}

func TestUpgradeFailsWhereAFaultSaysSo(t *testing.T) {
	for _, tc := range []struct{ failMode, want string }{
		{"", "Upgrading@2 DeployedFailed@2 DeployedFailed@2"},
		// Rolled back without a trace: only the unchanged version tells (the provider's
		// start grace).
		{computenest.FailRollback, "Upgrading@2 Deployed@2 Deployed@2"},
	} {
		t.Run("failMode "+tc.failMode, func(t *testing.T) {
			state := accounts + two
			if tc.failMode != "" {
				state = strings.Replace(state, "  - id: si-1\n", "  - id: si-1\n    failMode: "+tc.failMode+"\n", 1)
			}
			e := start(t, state, "failUpgrades: [si-1]\n")
			if _, err := e.upgrade("si-1", "3", `{"InstancePassword":"pw"}`, "false", ""); err != nil {
				t.Fatal(err)
			}
			var seen []string
			for range 3 {
				e.clock.Advance(computenest.DefaultDuration * 3 / 5)
				resp := e.list(t, cn.CreateListServiceInstancesRequest())
				seen = append(seen, resp.ServiceInstances[0].Status+"@"+resp.ServiceInstances[0].Service.Version)
			}
			if got := strings.Join(seen, " "); got != tc.want {
				t.Errorf("a failed upgrade went %s, want %s", got, tc.want)
			}
		})
	}
}

func TestDemoStateHasTheBriefsInstances(t *testing.T) {
	demo, err := os.ReadFile("testdata/demo-state.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, accounts+string(demo), "")
	resp := e.list(t, cn.CreateListServiceInstancesRequest())
	var got []string
	for _, si := range resp.ServiceInstances {
		get := cn.CreateGetServiceInstanceRequest()
		get.RegionId = "cn-hangzhou"
		get.ServiceInstanceId = si.ServiceInstanceId
		e.at(get)
		detail := cn.CreateGetServiceInstanceResponse()
		if err := e.client.DoAction(get, detail); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s v%s up%v", si.ServiceInstanceId, si.Status, si.Service.Version, detail.Service.UpgradableServiceVersions))
	}
	if strings.Contains(resp.GetHttpContentString(), "Upgradable") {
		t.Errorf("ListServiceInstances answered upgradable versions, which its current model does not have: %s", resp.GetHttpContentString())
	}
	if want := "si-demo-1 Deployed v2 up[3],si-demo-2 Deployed v2 up[3]"; strings.Join(got, ",") != want {
		t.Errorf("demo instances %q, want %q", got, want)
	}
	dry, err := e.upgrade("si-demo-1", "3", "", "true", "")
	if err != nil || strings.Join(dry.UpgradeRequiredParameters, ",") != "InstancePassword" {
		t.Errorf("demo dry run: %v, %v; want InstancePassword required", dry, err)
	}
}

func upgrades(t *testing.T, e env, id string) int {
	t.Helper()
	raw, err := e.sim.State()
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]json.RawMessage
	if err := json.Unmarshal(raw, &state); err != nil {
		t.Fatal(err)
	}
	var insts []struct {
		ID       string `json:"id"`
		Upgrades int    `json:"upgrades"`
	}
	if err := json.Unmarshal(state["computenest"], &insts); err != nil {
		t.Fatal(err)
	}
	for _, in := range insts {
		if in.ID == id {
			return in.Upgrades
		}
	}
	t.Fatalf("no %s in the state", id)
	return 0
}

func TestAnAcceptedUpgradeReadsAsBeforeUntilTheVisibilityLagPasses(t *testing.T) {
	e := start(t, accounts+"durations: {computenest: 20m}\nvisibilityLag: {computenest: 30s}\n"+two, "")
	params := `{"InstancePassword":"pw-secret"}`
	if _, err := e.upgrade("si-1", "3", params, "false", "tok-1"); err != nil {
		t.Fatal(err)
	}
	status := func() string {
		got := e.get(t, "si-1")
		return got.Status + " " + got.Service.Version
	}
	if got := status(); got != "Deployed 2" {
		t.Errorf("right after the accepted call: %s, want the old Deployed 2", got)
	}
	// During the lag the same token still replays; the cloud deduplicates it.
	if _, err := e.upgrade("si-1", "3", params, "false", "tok-1"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30 * time.Second)
	if got := status(); got != "Upgrading 2" {
		t.Errorf("after the lag: %s, want Upgrading 2", got)
	}
	e.clock.Advance(20 * time.Minute)
	if got := status(); got != "Deployed 3" {
		t.Errorf("after the lag and the upgrade: %s, want Deployed 3", got)
	}
	applied := e.sim.Applied()
	if len(applied) != 1 || applied[0].ClientToken != "tok-1" || applied[0].To["serviceVersion"] != "3" {
		t.Errorf("applied record %+v, want one change to 3 under tok-1", applied)
	}
	if raw, _ := json.Marshal(applied); strings.Contains(string(raw), "pw-secret") {
		t.Errorf("the applied record shows a password: %s", raw)
	}
}

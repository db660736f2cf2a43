package amqp_test

// These tests drive the simulated amqp-open API with the real Alibaba SDK, so the SDK and
// the simulator agree on the wire format without sharing code.

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	amqpsdk "github.com/aliyun/alibaba-cloud-sdk-go/services/amqp-open"

	"github.com/upgradeplan/upgradeplan/cloudsim/amqp"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

const accounts = "accounts:\n  - {name: demo-ali, cloud: alibaba, keyId: demo-ak, secret: demo-sk}\n"

type env struct {
	sim    *simtest.Sim
	client *amqpsdk.Client
	clock  *simtest.Clock
}

func start(t *testing.T, state string) env {
	t.Helper()
	c := simtest.NewClock(time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC))
	s := simtest.Start(t, state, sim.Options{Now: c.Now}, amqp.New())
	client, err := amqpsdk.NewClientWithAccessKey("cn-hangzhou", "demo-ak", "demo-sk")
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

func (e env) list(t *testing.T, max int, token string) *amqpsdk.ListInstancesResponse {
	t.Helper()
	req := amqpsdk.CreateListInstancesRequest()
	e.at(req)
	req.MaxResults = requests.NewInteger(max)
	req.NextToken = token
	resp, err := e.client.ListInstances(req)
	if err != nil {
		t.Fatalf("ListInstances: %v", err)
	}
	return resp
}

// detail calls GetInstance, which the SDK has no request type for.
func (e env) detail(t *testing.T, id string) map[string]any {
	t.Helper()
	req := requests.NewCommonRequest()
	req.Product, req.Version, req.ApiName = "amqp-open", "2019-12-12", "GetInstance"
	req.QueryParams["RegionId"] = "cn-hangzhou"
	req.QueryParams["InstanceId"] = id
	e.at(req)
	resp, err := e.client.ProcessCommonRequest(req)
	if err != nil {
		t.Fatalf("GetInstance: %v", err)
	}
	var body struct{ Data map[string]any }
	if err := json.Unmarshal(resp.GetHttpContentBytes(), &body); err != nil {
		t.Fatal(err)
	}
	return body.Data
}

func (e env) update(id string, params map[string]string) (*amqpsdk.UpdateInstanceResponse, error) {
	req := amqpsdk.CreateUpdateInstanceRequest()
	e.at(req)
	req.InstanceId = id
	for k, v := range params {
		switch k {
		case "ModifyType":
			req.ModifyType = v
		case "MaxPrivateTps":
			req.MaxPrivateTps = requests.Integer(v)
		case "QueueCapacity":
			req.QueueCapacity = requests.Integer(v)
		case "InstanceType":
			req.InstanceType = v
		case "ClientToken":
			req.ClientToken = v
		default:
			req.QueryParams[k] = v
		}
	}
	return e.client.UpdateInstance(req)
}

func TestListInstancesPagesDecodeInTheSDK(t *testing.T) {
	var b strings.Builder
	b.WriteString(accounts + "rabbitmq:\n")
	for i := range 5 {
		fmt.Fprintf(&b, "  - {id: amqp-%d, region: cn-hangzhou, tags: {env: demo}, instanceType: vip, maxPrivateTps: %d, queueCapacity: 100, supportEip: true, maxEipTps: 128, storageSize: 7}\n", i, 1000*(i+1))
	}
	b.WriteString("  - {id: amqp-bj, region: cn-beijing}\n")
	e := start(t, b.String())

	var ids []string
	token := ""
	pages := 0
	for {
		resp := e.list(t, 2, token)
		pages++
		for _, vo := range resp.Data.Instances {
			ids = append(ids, vo.InstanceId)
		}
		if resp.Data.NextToken == "" {
			break
		}
		token = resp.Data.NextToken
	}
	if got := strings.Join(ids, ","); got != "amqp-0,amqp-1,amqp-2,amqp-3,amqp-4" || pages != 3 {
		t.Errorf("pages of 2 returned %s in %d pages, want every cn-hangzhou instance once in 3", got, pages)
	}
	vo := e.list(t, 100, "").Data.Instances[1]
	if vo.MaxTps != 2000 || vo.MaxQueue != 100 || !vo.SupportEIP || vo.MaxEipTps != 128 || vo.StorageSize != 7 ||
		vo.InstanceType != "VIP" || vo.OrderType != "PRE_PAID" || vo.Status != "SERVING" || len(vo.Tags) != 1 || vo.Tags[0].Value != "demo" {
		t.Errorf("the SDK decoded %+v", vo)
	}

	for _, bad := range []string{"0", "101"} {
		req := amqpsdk.CreateListInstancesRequest()
		e.at(req)
		req.MaxResults = requests.Integer(bad)
		_, err := e.client.ListInstances(req)
		if se, ok := err.(*errors.ServerError); !ok || se.ErrorCode() != "InvalidParameter.MaxResults" {
			t.Errorf("MaxResults %s: %v, want InvalidParameter.MaxResults", bad, err)
		}
	}
}

func TestUpdateInstanceLifecycle(t *testing.T) {
	e := start(t, accounts+"durations: {rabbitmq: 10m}\nrabbitmq:\n"+
		"  - {id: amqp-1, region: cn-hangzhou, instanceType: professional, maxPrivateTps: 3000, queueCapacity: 1000, maxConnections: 1500}\n")
	resp, err := e.update("amqp-1", map[string]string{"ModifyType": "UPGRADE", "MaxPrivateTps": "5000", "InstanceType": "enterprise",
		"EncryptedInstance": "true", "KmsKeyId": "key-1"})
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		RequestId string
		Data      struct {
			InstanceID string `json:"instanceId"`
			OrderID    int64  `json:"orderId"`
		}
	}
	if err := json.Unmarshal(resp.GetHttpContentBytes(), &body); err != nil || body.RequestId == "" || body.Data.OrderID == 0 || body.Data.InstanceID != "amqp-1" {
		t.Errorf("UpdateInstance answered %s (%v), want a request id and Data.orderId", resp.GetHttpContentString(), err)
	}
	if got := e.list(t, 10, "").Data.Instances[0]; got.Status != "DEPLOYING" || got.MaxTps != 3000 {
		t.Errorf("right after the call: %s with MaxTps %d, want DEPLOYING at 3000", got.Status, got.MaxTps)
	}
	if _, err := e.update("amqp-1", map[string]string{"ModifyType": "UPGRADE", "MaxPrivateTps": "6000"}); code(err) != "InstanceUpgradeOrDownGradeTopicMigrating" {
		t.Errorf("a second change while deploying: %v, want InstanceUpgradeOrDownGradeTopicMigrating", err)
	}
	e.clock.Advance(10 * time.Minute)
	got := e.detail(t, "amqp-1")
	want := map[string]any{"Status": "SERVING", "MaxTps": 5000.0, "InstanceType": "ENTERPRISE", "MaxConnections": 1500.0,
		"EncryptedInstance": true, "KmsKeyId": "key-1", "Edition": "dedicated"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("after 10 minutes GetInstance %s = %v, want %v", k, got[k], v)
		}
	}
	// Now dedicated: its encryption may not even be restated.
	if _, err := e.update("amqp-1", map[string]string{"ModifyType": "UPGRADE", "MaxPrivateTps": "6000", "EncryptedInstance": "true", "KmsKeyId": "key-1"}); code(err) != "InvalidParameter.EncryptedInstance" {
		t.Errorf("encryption sent to a dedicated instance: %v, want InvalidParameter.EncryptedInstance", err)
	}
}

func TestUpdateInstanceFailsWhereAFaultSaysSo(t *testing.T) {
	c := simtest.NewClock(time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC))
	s := simtest.Start(t, accounts+"rabbitmq:\n  - {id: amqp-1, region: cn-hangzhou, maxPrivateTps: 3000}\n",
		sim.Options{Now: c.Now, Faults: []byte("failUpgrades: [amqp-1]\n")}, amqp.New())
	client, err := amqpsdk.NewClientWithAccessKey("cn-hangzhou", "demo-ak", "demo-sk")
	if err != nil {
		t.Fatal(err)
	}
	client.SetNoProxy(s.Addr)
	e := env{sim: s, client: client, clock: c}
	if _, err := e.update("amqp-1", map[string]string{"ModifyType": "UPGRADE", "MaxPrivateTps": "5000"}); err != nil {
		t.Fatal(err)
	}
	c.Advance(amqp.DefaultDuration)
	if got := e.list(t, 10, "").Data.Instances[0]; got.Status != "SERVING" || got.MaxTps != 3000 {
		t.Errorf("after a failed change: %s at %d, want SERVING again with the old 3000", got.Status, got.MaxTps)
	}
}

func code(err error) string {
	if se, ok := err.(*errors.ServerError); ok {
		return se.ErrorCode()
	}
	return fmt.Sprint(err)
}

func TestDemoStateHasTheBriefsInstances(t *testing.T) {
	demo, err := os.ReadFile("testdata/demo-state.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, "accounts:\n  - {name: demo-ali, cloud: alibaba, keyId: demo-ak, secret: demo-sk}\n"+string(demo))
	var got []string
	for _, vo := range e.list(t, 100, "").Data.Instances {
		got = append(got, fmt.Sprintf("%s %s tps=%d queues=%d", vo.InstanceId, vo.Status, vo.MaxTps, vo.MaxQueue))
	}
	if want := "amqp-demo-1 SERVING tps=3000 queues=1000,amqp-demo-2 SERVING tps=3000 queues=1000"; strings.Join(got, ",") != want {
		t.Errorf("demo instances %q, want %q", got, want)
	}
}

func TestLoadRejectsABadState(t *testing.T) {
	tests := []struct{ name, state, want string }{
		{"an instance without a region", "rabbitmq:\n  - {id: amqp-1}\n", "region is required"},
		{"an unknown order type", "rabbitmq:\n  - {id: amqp-1, region: r, orderType: MONTHLY}\n", `orderType "MONTHLY"`},
		{"an unknown edition", "rabbitmq:\n  - {id: amqp-1, region: r, edition: premium}\n", `edition "premium"`},
		{"a duplicate id", "rabbitmq:\n  - {id: amqp-1, region: r}\n  - {id: amqp-1, region: r}\n", "duplicate id amqp-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sim.NewServer([]byte(tc.state), sim.Options{}, amqp.New())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewServer: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// The documented UpdateInstance refusals: INSUFFICIENT_AVAILABLE_QUOTA (HTTP 400) for an
// UPGRADE when the account's available limit is below 0 (a DOWNGRADE still goes through),
// and UnauthorizedOperation (HTTP 403) for an identity without the permission.
func TestUpdateInstanceAnswersTheDocumentedBillingAndPermissionCodes(t *testing.T) {
	e := start(t, accounts+"rabbitmq:\n"+
		"  - {id: amqp-overdue, region: cn-hangzhou, instanceType: vip, maxPrivateTps: 3000, overdue: true}\n"+
		"  - {id: amqp-denied, region: cn-hangzhou, instanceType: vip, maxPrivateTps: 3000, updateDeniedFor: [demo-ali]}\n")
	tests := []struct {
		id, modify, tps, code string
		status                int
	}{
		{"amqp-overdue", "UPGRADE", "5000", "INSUFFICIENT_AVAILABLE_QUOTA", 400},
		{"amqp-denied", "DOWNGRADE", "1000", "UnauthorizedOperation", 403},
		{"amqp-overdue", "DOWNGRADE", "1000", "", 200},
	}
	for _, tc := range tests {
		_, err := e.update(tc.id, map[string]string{"ModifyType": tc.modify, "MaxPrivateTps": tc.tps})
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s %s: %v, want it accepted", tc.modify, tc.id, err)
			}
			continue
		}
		se, ok := err.(*errors.ServerError)
		if !ok || se.ErrorCode() != tc.code || se.HttpStatus() != tc.status {
			t.Errorf("%s %s: %v, want %s (HTTP %d)", tc.modify, tc.id, err, tc.code, tc.status)
		}
	}
}

// StorageSize does not apply to professional and enterprise instances: both actions
// answer -1, as their models document.
func TestStorageSizeIsMinusOneWhereItDoesNotApply(t *testing.T) {
	e := start(t, accounts+"rabbitmq:\n"+
		"  - {id: amqp-pro, region: cn-hangzhou, instanceType: professional, storageSize: 0}\n"+
		"  - {id: amqp-ent, region: cn-hangzhou, instanceType: enterprise, storageSize: 200}\n"+
		"  - {id: amqp-vip, region: cn-hangzhou, instanceType: vip, storageSize: 700}\n")
	var got []string
	for _, inst := range e.list(t, 10, "").Data.Instances {
		got = append(got, fmt.Sprintf("%s=%d", inst.InstanceId, inst.StorageSize))
	}
	if want := "amqp-ent=-1 amqp-pro=-1 amqp-vip=700"; strings.Join(got, " ") != want {
		t.Errorf("StorageSize %v, want %s", got, want)
	}
}

func TestAnAcceptedUpdateListsAsBeforeUntilTheVisibilityLagPasses(t *testing.T) {
	e := start(t, accounts+"durations: {rabbitmq: 10m}\nvisibilityLag: {rabbitmq: 30s}\nrabbitmq:\n"+
		"  - {id: amqp-1, region: cn-hangzhou, instanceType: professional, maxPrivateTps: 3000, queueCapacity: 1000, maxConnections: 1500}\n")
	if _, err := e.update("amqp-1", map[string]string{"ModifyType": "UPGRADE", "MaxPrivateTps": "5000"}); err != nil {
		t.Fatal(err)
	}
	one := func() string {
		got := e.list(t, 10, "").Data.Instances[0]
		return fmt.Sprintf("%s %d", got.Status, got.MaxTps)
	}
	if got := one(); got != "SERVING 3000" {
		t.Errorf("right after the accepted call: %s, want the old SERVING 3000", got)
	}
	if d := e.detail(t, "amqp-1"); d["Status"] != "SERVING" {
		t.Errorf("GetInstance right after the call: %v, want SERVING", d["Status"])
	}
	e.clock.Advance(30 * time.Second)
	if got := one(); got != "DEPLOYING 3000" {
		t.Errorf("after the lag: %s, want DEPLOYING 3000", got)
	}
	e.clock.Advance(10 * time.Minute)
	if got := one(); got != "SERVING 5000" {
		t.Errorf("after the lag and the change: %s, want SERVING 5000", got)
	}
	applied := e.sim.Applied()
	if len(applied) != 1 || fmt.Sprint(applied[0].From, applied[0].To) != "map[maxPrivateTps:3000] map[maxPrivateTps:5000]" {
		t.Errorf("applied record %+v, want maxPrivateTps 3000 → 5000", applied)
	}
}

package rabbitmq

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

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
)

// base is a shared, subscription, enterprise instance.
const base = "instanceType=enterprise, maxPrivateTps=3000, queueCapacity=1000, maxConnections=1500, storageSize=200, maxEipTps=0"

func TestListReturnsEveryInstanceOnceAcrossPages(t *testing.T) {
	var insts strings.Builder
	for i := range 250 {
		tag := "even"
		if i%2 == 1 {
			tag = "odd"
		}
		insts.WriteString(instanceYAML(fmt.Sprintf("amqp-%03d", i), base+", tags={parity: "+tag+"}"))
	}
	insts.WriteString("  - {id: amqp-elsewhere, region: cn-beijing}\n")
	insts.WriteString("  - {id: amqp-not-mine, region: cn-hangzhou, account: ali-other}\n")
	s, p := start(t, insts.String(), "")
	ctx := context.Background()

	all, err := p.List(ctx, provider.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 250 {
		t.Fatalf("List returned %d instances, want the account's 250 in the region", len(all))
	}
	for i, inst := range all {
		if want := fmt.Sprintf("amqp-%03d", i); inst.ID != want {
			t.Fatalf("instance %d is %s, want %s (each once, sorted)", i, inst.ID, want)
		}
	}
	if n := s.Count("ListInstances"); n != 3 {
		t.Errorf("250 instances took %d ListInstances calls, want 3 pages of 100", n)
	}
	first := all[0]
	// StorageSize does not apply to an enterprise instance: the API reports -1.
	want := provider.Values{"instanceType": "enterprise", "maxPrivateTps": int64(3000), "queueCapacity": int64(1000),
		"storageSize": int64(-1), "supportEip": false, "maxEipTps": int64(0), "chargeType": "subscription"}
	if !reflect.DeepEqual(first.Values, want) || first.Status != "SERVING" || first.Phase != provider.PhaseReady {
		t.Errorf("amqp-000 = %+v, want values %v, SERVING, ready", first, want)
	}

	odd, err := p.List(ctx, provider.Selection{Tags: map[string]string{"parity": "odd"}})
	if err != nil || len(odd) != 125 || odd[0].ID != "amqp-001" {
		t.Errorf("tag parity=odd: %d instances (first %v), %v; want 125 from amqp-001", len(odd), odd[:min(1, len(odd))], err)
	}
	both, err := p.List(ctx, provider.Selection{IDs: []string{"amqp-001", "amqp-002", "amqp-nope"}, Tags: map[string]string{"parity": "odd"}})
	if err != nil || len(both) != 1 || both[0].ID != "amqp-001" {
		t.Errorf("ids and tags: %v, %v; want only amqp-001 (the intersection)", both, err)
	}
}

func TestPlanFollowsTheProductRules(t *testing.T) {
	instances := instanceYAML("amqp-shared", base) +
		instanceYAML("amqp-dedicated", base+", edition=dedicated, encrypted=true, kmsKeyId=key-old") +
		instanceYAML("amqp-payg", "orderType=POST_PAID, maxPrivateTps=500") +
		instanceYAML("amqp-vip", strings.Replace(base, "enterprise", "vip", 1))
	_, p := start(t, instances, "")

	type step struct {
		params map[string]any
		to     provider.Values
	}
	tests := []struct {
		name     string
		instance string
		desired  provider.Desired
		want     []step
		errs     []string // the messages users see, in field order
	}{
		{
			name: "storage on an enterprise instance, where the API reports -1, is a plan error", instance: "amqp-shared",
			desired: provider.Desired{"storageSize": int64(100)},
			errs:    []string{"storageSize: does not apply to enterprise instance amqp-shared (the API reports StorageSize -1 for Professional and Enterprise instances): remove storageSize"},
		},
		{
			name: "raising TPS and queues is one UPGRADE", instance: "amqp-shared",
			desired: provider.Desired{"maxPrivateTps": int64(5000), "queueCapacity": int64(2000)},
			want: []step{{
				params: map[string]any{"InstanceId": "amqp-shared", "ModifyType": "UPGRADE", "MaxPrivateTps": int64(5000), "QueueCapacity": int64(2000)},
				to:     provider.Values{"maxPrivateTps": int64(5000), "queueCapacity": int64(2000)},
			}},
		},
		{
			name: "shrinking storage is one DOWNGRADE that leaves unchanged fields out", instance: "amqp-vip",
			desired: provider.Desired{"storageSize": int64(100), "supportTracing": false, "maxPrivateTps": int64(3000)},
			want: []step{{
				params: map[string]any{"InstanceId": "amqp-vip", "ModifyType": "DOWNGRADE", "StorageSize": int64(100)},
				to:     provider.Values{"storageSize": int64(100)},
			}},
		},
		{
			name: "a mixed change is an UPGRADE holding the lowered values, then a DOWNGRADE", instance: "amqp-shared",
			desired: provider.Desired{"instanceType": "vip", "maxPrivateTps": int64(8000), "queueCapacity": int64(500), "supportEip": true},
			want: []step{
				{
					params: map[string]any{"InstanceId": "amqp-shared", "ModifyType": "UPGRADE", "InstanceType": "vip", "MaxPrivateTps": int64(8000), "QueueCapacity": int64(1000), "SupportEip": true},
					to:     provider.Values{"instanceType": "vip", "maxPrivateTps": int64(8000), "queueCapacity": int64(1000), "supportEip": true},
				},
				{
					params: map[string]any{"InstanceId": "amqp-shared", "ModifyType": "DOWNGRADE", "InstanceType": "vip", "MaxPrivateTps": int64(8000), "QueueCapacity": int64(500), "SupportEip": true},
					to:     provider.Values{"instanceType": "vip", "maxPrivateTps": int64(8000), "queueCapacity": int64(500), "supportEip": true},
				},
			},
		},
		{
			name: "encrypting a shared instance sends the key with the UPGRADE", instance: "amqp-shared",
			desired: provider.Desired{"encrypted": true, "kmsKeyId": "key-1"},
			want: []step{{
				params: map[string]any{"InstanceId": "amqp-shared", "ModifyType": "UPGRADE", "EncryptedInstance": true, "KmsKeyId": "key-1"},
				to:     provider.Values{"encrypted": true, "kmsKeyId": "key-1"},
			}},
		},
		{
			name: "a dedicated instance's unchanged encryption is never sent", instance: "amqp-dedicated",
			desired: provider.Desired{"encrypted": true, "kmsKeyId": "key-old", "maxConnections": int64(3000)},
			want: []step{{
				params: map[string]any{"InstanceId": "amqp-dedicated", "ModifyType": "UPGRADE", "MaxConnections": int64(3000)},
				to:     provider.Values{"maxConnections": int64(3000)},
			}},
		},
		{
			name: "a desired state equal to the instance plans nothing", instance: "amqp-shared",
			desired: provider.Desired{"maxPrivateTps": int64(3000), "supportEip": false},
		},
		{
			name: "changing encryption on a dedicated instance is rejected", instance: "amqp-dedicated",
			desired: provider.Desired{"encrypted": false, "maxPrivateTps": int64(5000)},
			errs:    []string{"encrypted: cannot change on dedicated instance amqp-dedicated (encrypted is true there): remove encrypted or set it to true"},
		},
		{
			name: "a new key on a dedicated instance is rejected", instance: "amqp-dedicated",
			desired: provider.Desired{"encrypted": true, "kmsKeyId": "key-new"},
			errs:    []string{`kmsKeyId: cannot change on dedicated instance amqp-dedicated (its key is "key-old"): remove kmsKeyId or set it to "key-old"`},
		},
		{
			name: "encrypted without kmsKeyId is rejected", instance: "amqp-shared",
			desired: provider.Desired{"encrypted": true},
			errs:    []string{"encrypted: encrypted: true needs kmsKeyId, the KMS key that encrypts the instance's storage"},
		},
		{
			name: "kmsKeyId without encrypted is rejected", instance: "amqp-shared",
			desired: provider.Desired{"kmsKeyId": "key-1"},
			errs:    []string{"kmsKeyId: is used only with encrypted: true, which turns shared instance amqp-shared into an encrypted dedicated one"},
		},
		{
			name: "instanceType on a pay-as-you-go instance is rejected", instance: "amqp-payg",
			desired: provider.Desired{"instanceType": "vip"},
			errs:    []string{"instanceType: can change only on subscription instances; amqp-payg is pay-as-you-go (its type is serverless): remove instanceType"},
		},
		{
			name: "every broken rule is reported at once", instance: "amqp-shared",
			desired: provider.Desired{"instanceType": "gold", "maxPrivateTps": -1, "colour": "red"},
			errs: []string{
				"colour: is not a RabbitMQ field; use instanceType, maxPrivateTps, queueCapacity, maxConnections, storageSize, supportEip, maxEipTps, supportTracing, tracingStorageTime, serverlessChargeType, encrypted, kmsKeyId",
				"instanceType: gold is not professional, enterprise or vip",
				"maxPrivateTps: -1 is not a whole, non-negative number",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			changes, err := p.Plan(context.Background(), instance(t, p, tc.instance), tc.desired)
			if len(tc.errs) > 0 {
				if err == nil {
					t.Fatalf("Plan = %+v, want errors %q", changes, tc.errs)
				}
				var got []string
				for _, e := range unjoin(err) {
					if _, ok := e.(*provider.RuleError); !ok {
						t.Errorf("error %v is a %T, want *provider.RuleError", e, e)
					}
					got = append(got, e.Error())
				}
				if !reflect.DeepEqual(got, tc.errs) {
					t.Errorf("errors:\n got %q\nwant %q", got, tc.errs)
				}
				return
			}
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if len(changes) != len(tc.want) {
				t.Fatalf("Plan = %d changes %+v, want %d", len(changes), changes, len(tc.want))
			}
			for i, w := range tc.want {
				if changes[i].Action != "UpdateInstance" || !reflect.DeepEqual(changes[i].Params, w.params) || !reflect.DeepEqual(changes[i].To, w.to) {
					t.Errorf("change %d = %s %v to %v\nwant UpdateInstance %v to %v", i, changes[i].Action, changes[i].Params, changes[i].To, w.params, w.to)
				}
			}
		})
	}
}

func unjoin(err error) []error {
	if m, ok := err.(interface{ Unwrap() []error }); ok {
		return m.Unwrap()
	}
	return []error{err}
}

func TestGetInstanceIsCalledOnlyForFieldsTheListLacks(t *testing.T) {
	s, p := start(t, instanceYAML("amqp-1", base), "")
	ctx := context.Background()
	inst := instance(t, p, "amqp-1")
	if _, err := p.Plan(ctx, inst, provider.Desired{"maxPrivateTps": int64(5000)}); err != nil {
		t.Fatal(err)
	}
	if n := s.Count("GetInstance"); n != 0 {
		t.Errorf("planning list fields sent %d GetInstance calls, want 0", n)
	}
	changes, err := p.Plan(ctx, inst, provider.Desired{"maxConnections": int64(3000)})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Count("GetInstance"); n != 1 {
		t.Errorf("planning maxConnections sent %d GetInstance calls, want 1", n)
	}
	if got := changes[0].From["maxConnections"]; got != int64(1500) {
		t.Errorf("from maxConnections = %v, want GetInstance's 1500", got)
	}
}

// TestSimulatorRefusesWhatPlanRejects sends calls Plan would never plan, through Apply and
// the real SDK, and checks the simulator answers each with the API's error code.
func TestSimulatorRefusesWhatPlanRejects(t *testing.T) {
	instances := instanceYAML("amqp-shared", base) +
		instanceYAML("amqp-dedicated", base+", edition=dedicated, encrypted=true, kmsKeyId=key-old") +
		instanceYAML("amqp-payg", "orderType=POST_PAID, maxPrivateTps=500") +
		instanceYAML("amqp-busy", base+", status=DEPLOYING")
	_, p := start(t, instances, "")
	tests := []struct {
		name     string
		instance string
		params   map[string]any
		code     string
		class    provider.Class // permanent when empty
	}{
		{"UPGRADE with a lowered value", "amqp-shared", map[string]any{"ModifyType": "UPGRADE", "MaxPrivateTps": 5000, "QueueCapacity": 10}, "InvalidParameter.ModifyType", ""},
		{"DOWNGRADE with a raised value", "amqp-shared", map[string]any{"ModifyType": "DOWNGRADE", "SupportTracing": true}, "InvalidParameter.ModifyType", ""},
		{"InstanceType on a pay-as-you-go instance", "amqp-payg", map[string]any{"ModifyType": "UPGRADE", "InstanceType": "vip"}, "InvalidParameter.InstanceType", ""},
		{"encryption sent to a dedicated instance", "amqp-dedicated", map[string]any{"ModifyType": "UPGRADE", "MaxPrivateTps": 5000, "EncryptedInstance": true, "KmsKeyId": "key-old"}, "InvalidParameter.EncryptedInstance", ""},
		{"EncryptedInstance without KmsKeyId", "amqp-shared", map[string]any{"ModifyType": "UPGRADE", "EncryptedInstance": true}, "MissingParameter.KmsKeyId", ""},
		// The earlier change still migrates topics: the instance is busy, the step waits.
		{"an instance in the middle of a change", "amqp-busy", map[string]any{"ModifyType": "UPGRADE", "MaxPrivateTps": 5000}, "InstanceUpgradeOrDownGradeTopicMigrating", provider.ClassBusy},
		{"an unknown instance", "amqp-nope", map[string]any{"ModifyType": "UPGRADE", "MaxPrivateTps": 5000}, "InstanceNotExist", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Apply(context.Background(), provider.Call{Instance: tc.instance, Action: "UpdateInstance", Params: tc.params})
			pe, ok := provider.AsError(err)
			class := tc.class
			if class == "" {
				class = provider.ClassPermanent
			}
			if !ok || pe.Code != tc.code || pe.Class != class || pe.RequestID == "" || pe.Instance != tc.instance {
				t.Fatalf("Apply = %v, want a %s %s error with a request id naming %s", err, class, tc.code, tc.instance)
			}
		})
	}
}

func TestMixedChangeRunsUpgradeThenDowngradeToCompletion(t *testing.T) {
	s, p := start(t, instanceYAML("amqp-1", base), "")
	ctx := context.Background()
	changes, err := p.Plan(ctx, instance(t, p, "amqp-1"), provider.Desired{"maxPrivateTps": int64(6000), "queueCapacity": int64(800), "maxConnections": int64(2000)})
	if err != nil || len(changes) != 2 {
		t.Fatalf("Plan = %v, %v; want two changes", changes, err)
	}
	for i, ch := range changes {
		w := provider.Watch{Instance: "amqp-1", Action: ch.Action, From: ch.From, To: ch.To}
		if got := waitFor(t, p, w, provider.StatePending); got.Status != "SERVING" {
			t.Fatalf("step %d before the call: %+v, want pending on a SERVING instance", i, got)
		}
		// A plan file read back holds numbers as json.Number: Apply must send the same.
		params := roundTrip(t, ch.Params)
		rec, err := p.Apply(ctx, provider.Call{Instance: "amqp-1", Action: ch.Action, Params: params, ClientToken: fmt.Sprintf("tok-%d", i)})
		if err != nil {
			t.Fatalf("Apply step %d: %v", i, err)
		}
		if rec.RequestID == "" || rec.OrderID == "" {
			t.Errorf("receipt %+v, want a request id and an order id", rec)
		}
		calls := s.CallsTo("UpdateInstance")
		if got, want := received(calls[len(calls)-1]), stringParams(t, ch.Params); !maps.Equal(got, want) {
			t.Errorf("step %d: the simulator received %v, the plan says %v", i, got, want)
		}
		w.Started = true
		waitFor(t, p, w, provider.StateDone)
	}
	// Capacity never dropped below the smaller spec: the UPGRADE kept the queue capacity.
	first := received(s.CallsTo("UpdateInstance")[0])
	if first["ModifyType"] != "UPGRADE" || first["QueueCapacity"] != "1000" {
		t.Errorf("first call %v, want an UPGRADE holding QueueCapacity at 1000", first)
	}
	final := instance(t, p, "amqp-1")
	if final.Values["maxPrivateTps"] != int64(6000) || final.Values["queueCapacity"] != int64(800) {
		t.Errorf("after both steps: %v, want maxPrivateTps 6000 and queueCapacity 800", final.Values)
	}
}

func roundTrip(t *testing.T, params map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSameClientTokenChangesTheInstanceOnce(t *testing.T) {
	s, p := start(t, instanceYAML("amqp-1", base), "")
	ctx := context.Background()
	call := provider.Call{Instance: "amqp-1", Action: "UpdateInstance", ClientToken: "plan-abc/step-1",
		Params: map[string]any{"InstanceId": "amqp-1", "ModifyType": "UPGRADE", "MaxPrivateTps": int64(5000)}}
	first, err := p.Apply(ctx, call)
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.Apply(ctx, call)
	if err != nil {
		t.Fatalf("resending with the same token: %v", err)
	}
	if again.OrderID != first.OrderID {
		t.Errorf("the same token answered order %s then %s, want the same order", first.OrderID, again.OrderID)
	}
	var snap []struct {
		ID     string `json:"id"`
		Orders int    `json:"orders"`
	}
	raw, _ := s.State()
	var state map[string]json.RawMessage
	if err := json.Unmarshal(raw, &state); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(state["rabbitmq"], &snap); err != nil || len(snap) != 1 || snap[0].Orders != 1 {
		t.Errorf("instance orders %+v (%v), want exactly one accepted change", snap, err)
	}

	call.Params = map[string]any{"InstanceId": "amqp-1", "ModifyType": "UPGRADE", "MaxPrivateTps": int64(9000)}
	_, err = p.Apply(ctx, call)
	if pe, ok := provider.AsError(err); !ok || pe.Code != "IdempotentParameterMismatch" || pe.Class != provider.ClassPermanent {
		t.Errorf("same token, other parameters: %v, want a permanent IdempotentParameterMismatch", err)
	}
}

func TestObserveReportsAFailedChange(t *testing.T) {
	_, p := start(t, instanceYAML("amqp-1", base), "failUpgrades: [amqp-1]\n")
	ctx := context.Background()
	changes, err := p.Plan(ctx, instance(t, p, "amqp-1"), provider.Desired{"maxPrivateTps": int64(5000)})
	if err != nil {
		t.Fatal(err)
	}
	receipt, err := p.Apply(ctx, provider.Call{Instance: "amqp-1", Action: changes[0].Action, Params: changes[0].Params})
	if err != nil {
		t.Fatal(err)
	}
	// Seen DEPLOYING first, as the executor's polls see it.
	waitFor(t, p, provider.Watch{Instance: "amqp-1", Action: changes[0].Action, From: changes[0].From, To: changes[0].To, Started: true, Since: time.Now(), OrderID: receipt.OrderID}, provider.StateInProgress)
	w := provider.Watch{Instance: "amqp-1", Action: changes[0].Action, From: changes[0].From, To: changes[0].To, Started: true, Since: time.Now(), OrderID: receipt.OrderID}
	// The change runs (DEPLOYING), then is rolled back: SERVING again with the old spec.
	// Once the operation is over the step fails naming both specs, long before stepTimeout.
	got := waitFor(t, p, w, provider.StateFailed)
	want := "instance amqp-1 is SERVING with maxPrivateTps=3000, not the planned maxPrivateTps=5000: the change ended without taking effect (order " + receipt.OrderID + ")"
	if got.Status != "SERVING" || got.Message != want || receipt.OrderID == "" {
		t.Errorf("failed progress %+v\nwant message %q", got, want)
	}
	gone, err := p.Observe(ctx, []provider.Watch{{Instance: "amqp-gone", To: provider.Values{"maxPrivateTps": 1}}})
	if err != nil || gone[0].State != provider.StateMissing {
		t.Errorf("watching a deleted instance: %+v, %v; want missing", gone, err)
	}
}

func TestObserveBeforeTheCall(t *testing.T) {
	_, p := start(t, instanceYAML("amqp-1", base)+instanceYAML("amqp-2", base+", status=DEPLOYING"), "")
	to := provider.Values{"maxPrivateTps": int64(5000)}
	got, err := p.Observe(context.Background(), []provider.Watch{
		{Instance: "amqp-1", From: provider.Values{"maxPrivateTps": int64(3000)}, To: to},
		{Instance: "amqp-1", From: provider.Values{"maxPrivateTps": int64(4000)}, To: to},
		{Instance: "amqp-1", From: provider.Values{"maxPrivateTps": int64(2000)}, To: provider.Values{"maxPrivateTps": int64(3000)}},
		{Instance: "amqp-2", From: provider.Values{"maxPrivateTps": int64(3000)}, To: to},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.State{provider.StatePending, provider.StateDrifted, provider.StateDone, provider.StateWaiting}
	for i, w := range want {
		if got[i].State != w {
			t.Errorf("watch %d: %s (%s), want %s", i, got[i].State, got[i].Message, w)
		}
	}
	if got[1].Message != "maxPrivateTps is 3000, the plan expected 4000" {
		t.Errorf("drift message %q", got[1].Message)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	tests := []struct {
		name   string
		faults string
		action string
		class  provider.Class
		code   string
	}{
		{"an internal error is retryable", "rules: [{product: amqp-open, action: ListInstances, fault: internal-error}]", "ListInstances", provider.ClassRetryable, "InternalError"},
		{"a 503 is retryable", "rules: [{product: amqp-open, action: ListInstances, fault: unavailable}]", "ListInstances", provider.ClassRetryable, "ServiceUnavailable"},
		{"throttling is throttled", "rules: [{product: amqp-open, action: ListInstances, fault: throttle}]", "ListInstances", provider.ClassThrottled, "Throttling.User"},
		{"a dropped upgrade's outcome is unknown", "rules: [{product: amqp-open, action: UpdateInstance, fault: drop}]", "UpdateInstance", provider.ClassUnknown, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, p := start(t, instanceYAML("amqp-1", base), tc.faults)
			var err error
			if tc.action == "ListInstances" {
				_, err = p.List(context.Background(), provider.Selection{})
			} else {
				_, err = p.Apply(context.Background(), provider.Call{Instance: "amqp-1", Action: "UpdateInstance",
					Params: map[string]any{"ModifyType": "UPGRADE", "MaxPrivateTps": int64(5000)}})
			}
			pe, ok := provider.AsError(err)
			if !ok || pe.Class != tc.class || (tc.code != "" && pe.Code != tc.code) || pe.Kind != Kind {
				t.Fatalf("error %v (%+v), want class %s code %q", err, pe, tc.class, tc.code)
			}
			if tc.action == "UpdateInstance" && s.CountOK("UpdateInstance") != 1 {
				t.Errorf("the dropped call was not applied by the simulator")
			}
		})
	}

	t.Run("a wrong secret is permanent", func(t *testing.T) {
		s, _ := start(t, instanceYAML("amqp-1", base), "")
		_, err := open(t, s, "test-ak", "wrong").List(context.Background(), provider.Selection{})
		if pe, ok := provider.AsError(err); !ok || pe.Code != "SignatureDoesNotMatch" || pe.Class != provider.ClassPermanent {
			t.Errorf("wrong secret: %v, want permanent SignatureDoesNotMatch", err)
		}
	})
}

func TestConcurrentCallsThroughOneProvider(t *testing.T) {
	var insts strings.Builder
	for i := range 20 {
		insts.WriteString(instanceYAML(fmt.Sprintf("amqp-%02d", i), base))
	}
	s, p := start(t, insts.String(), "")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		id := fmt.Sprintf("amqp-%02d", i)
		wg.Add(2)
		go func() {
			defer wg.Done()
			changes, err := p.Plan(ctx, instance(t, p, id), provider.Desired{"maxConnections": int64(4000)})
			if err == nil {
				_, err = p.Apply(ctx, provider.Call{Instance: id, Action: changes[0].Action, Params: changes[0].Params, ClientToken: "t-" + id})
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := p.Observe(ctx, []provider.Watch{{Instance: id, To: provider.Values{"maxConnections": int64(4000)}}})
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
	if n := s.CountOK("UpdateInstance"); n != 20 {
		t.Errorf("%d UpdateInstance calls succeeded, want 20", n)
	}
}

func TestEveryRequestGoesThroughTheDoer(t *testing.T) {
	s := simtestStart(t, instanceYAML("amqp-1", base))
	doer := &providertest.Recorder{}
	env := map[string]string{"UPGRADEPLAN_ALIBABA_ENDPOINT": s.Addr}
	// The zero account: the SDK's default chain, here its environment variables.
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "test-ak")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "test-sk")
	p, err := New(provider.Config{Region: region, Doer: doer, Getenv: providertest.Getenv(env)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	changes, err := p.Plan(ctx, instance(t, p, "amqp-1"), provider.Desired{"maxConnections": int64(3000)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(ctx, provider.Call{Instance: "amqp-1", Action: changes[0].Action, Params: changes[0].Params}); err != nil {
		t.Fatal(err)
	}
	seen := doer.Requests()
	var got []string
	for _, r := range seen {
		got = append(got, fmt.Sprintf("%s %s %s mutating=%v %s", r.Kind, r.Region, r.Action, r.Mutating, r.Instance))
	}
	want := []string{
		"alibaba.rabbitmq cn-hangzhou ListInstances mutating=false ",
		"alibaba.rabbitmq cn-hangzhou GetInstance mutating=false ",
		"alibaba.rabbitmq cn-hangzhou UpdateInstance mutating=true amqp-1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the Doer saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(s.Calls()); n != len(seen) {
		t.Errorf("the simulator received %d calls, the Doer saw %d", n, len(seen))
	}
	if acct := s.Calls()[0].Account; acct != "ali-test" {
		t.Errorf("the default chain signed as %q, want the account of ALIBABA_CLOUD_ACCESS_KEY_ID", acct)
	}
}

package mongodb_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/dds"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/mongodb"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
)

// Kernels as the release notes (and the simulator's state) spell them, and as an
// instance's CurrentKernelVersion does.
const (
	oldKernel    = "mongodb_20231123_4.4.25"
	newestKernel = "mongodb_20240611_4.4.29"
	oldestKernel = "mongodb_20230215_4.4.18"

	oldInstanceKernel    = "4.4.25-20231123000000_0"
	newestInstanceKernel = "4.4.29-20240611000000_0"
)

const state = `
accounts:
  - {name: ali, cloud: alibaba, keyId: ak-1, secret: sk-1}
durations: {mongodb: 15m}
mongodb:
  - {id: dds-01, region: cn-hangzhou, account: ali, engineVersion: "4.4", kernelVersion: ` + oldKernel + `, replicationFactor: 3, tags: {env: prod}}
  - {id: dds-02, region: cn-hangzhou, account: ali, engineVersion: "4.4", kernelVersion: ` + newestKernel + `, replicationFactor: 3, tags: {env: prod}}
  - {id: dds-03, region: cn-hangzhou, account: ali, engineVersion: "4.4", kernelVersion: ` + oldKernel + `, replicationFactor: 1, tags: {env: prod}}
  - {id: dds-04, region: cn-hangzhou, account: ali, engineVersion: "4.4", kernelVersion: ` + oldKernel + `, replicationFactor: 3, status: Rebooting}
  - {id: dds-05, region: cn-hangzhou, account: ali, engineVersion: "4.4", kernelVersion: ` + oldKernel + `, type: sharding, tags: {env: prod}}
  - {id: dds-06, region: cn-hangzhou, account: ali, engineVersion: "4.4", kernelVersion: ` + oldKernel + `, replicationFactor: 3}
  - {id: dds-07, region: cn-hangzhou, account: ali, engineVersion: "3.4", kernelVersion: mongodb_20200101_3.4.1, replicationFactor: 3}
`

func newClock() *simtest.Clock {
	return simtest.NewClock(time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC))
}

type fixture struct {
	sim   *simtest.Sim
	clock *simtest.Clock
}

func start(t *testing.T, st, faults string) fixture {
	t.Helper()
	c := newClock()
	return fixture{sim: simtest.Start(t, st, sim.Options{Now: c.Now, Faults: []byte(faults)}, dds.New()), clock: c}
}

func (f fixture) open(t *testing.T, mutate ...func(*provider.Config)) *mongodb.Provider {
	t.Helper()
	env := map[string]string{"UPGRADEPLAN_ALIBABA_ENDPOINT": f.sim.Addr, "ALI_AK": "ak-1", "ALI_SK": "sk-1"}
	cfg := provider.Config{
		Region:  "cn-hangzhou",
		Account: provider.Account{Name: "ali", Cloud: "alibaba", KeyID: provider.SecretRef{FromEnv: "ALI_AK"}, Secret: provider.SecretRef{FromEnv: "ALI_SK"}},
		Getenv:  providertest.Getenv(env),
		Timeout: 2 * time.Second,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	p, err := mongodb.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func find(t *testing.T, p *mongodb.Provider, id string) provider.Instance {
	t.Helper()
	insts, err := p.List(context.Background(), provider.Selection{IDs: []string{id}})
	if err != nil || len(insts) != 1 {
		t.Fatalf("list %s: %v %v", id, insts, err)
	}
	return insts[0]
}

// manyInstances is a cn-hangzhou region of replicas replica sets (dds-NNNN) and sharded
// sharded clusters (dds-s-NNNN), every other one tagged env: prod, and one replica set in
// cn-beijing.
func manyInstances(replicas, sharded int) string {
	var b strings.Builder
	b.WriteString("accounts:\n  - {name: ali, cloud: alibaba, keyId: ak-1, secret: sk-1}\nmongodb:\n")
	env := func(i int) string {
		if i%2 == 0 {
			return "prod"
		}
		return "dev"
	}
	for i := range replicas {
		fmt.Fprintf(&b, "  - {id: dds-%04d, region: cn-hangzhou, engineVersion: \"4.4\", kernelVersion: %s, replicationFactor: 3, tags: {env: %s}}\n", i, oldKernel, env(i))
	}
	for i := range sharded {
		fmt.Fprintf(&b, "  - {id: dds-s-%04d, region: cn-hangzhou, type: sharding, engineVersion: \"4.4\", kernelVersion: %s, tags: {env: %s}}\n", i, oldKernel, env(i))
	}
	b.WriteString("  - {id: dds-elsewhere, region: cn-beijing, engineVersion: \"4.4\", kernelVersion: " + oldKernel + ", replicationFactor: 3, tags: {env: prod}}\n")
	return b.String()
}

func TestListPagesEveryInstanceOfBothTypesExactlyOnce(t *testing.T) {
	tests := []struct {
		name        string
		sel         provider.Selection
		wantCount   int
		wantSharded int
		wantCalls   string // DBInstanceType:PageNumber of each DescribeDBInstances call, in order
	}{
		{"the whole region takes three pages of replica sets and two of sharded clusters", provider.Selection{}, 370, 120,
			"replicate:1 replicate:2 replicate:3 sharding:1 sharding:2"},
		{"a tag filter is applied by the API, so fewer pages are read", provider.Selection{Tags: map[string]string{"env": "prod"}}, 185, 60,
			"replicate:1 replicate:2 sharding:1"},
		{"a single replica set id is one call per type", provider.Selection{IDs: []string{"dds-0042"}}, 1, 0,
			"replicate:1 sharding:1"},
		{"a single sharded cluster id is found by the sharding listing", provider.Selection{IDs: []string{"dds-s-0007"}}, 1, 1,
			"replicate:1 sharding:1"},
		{"several ids of both types are filtered from the pages", provider.Selection{IDs: []string{"dds-0001", "dds-0249", "dds-s-0100", "dds-elsewhere"}}, 3, 1,
			"replicate:1 replicate:2 replicate:3 sharding:1 sharding:2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, manyInstances(250, 120), "")
			p := f.open(t)
			got, err := p.List(context.Background(), tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			sharded := 0
			for _, inst := range got {
				if _, has := inst.Values["kernelVersion"]; seen[inst.ID] || inst.Region != "cn-hangzhou" || has {
					t.Fatalf("instance %+v is repeated or wrong", inst)
				}
				seen[inst.ID] = true
				wantType := "replicate"
				if strings.HasPrefix(inst.ID, "dds-s-") {
					wantType = "sharding"
					sharded++
				}
				if inst.Values["dbInstanceType"] != wantType {
					t.Errorf("%s has dbInstanceType %v, want %s", inst.ID, inst.Values["dbInstanceType"], wantType)
				}
			}
			sorted := slices.IsSortedFunc(got, func(a, b provider.Instance) int { return strings.Compare(a.ID, b.ID) })
			if len(got) != tc.wantCount || sharded != tc.wantSharded || !sorted {
				t.Errorf("%d instances, %d of them sharded (sorted: %v); want %d, %d sharded, sorted", len(got), sharded, sorted, tc.wantCount, tc.wantSharded)
			}
			var calls []string
			for _, c := range f.sim.CallsTo("DescribeDBInstances") {
				if c.Params["PageSize"] != "100" {
					t.Errorf("a call asked PageSize %s, want 100", c.Params["PageSize"])
				}
				calls = append(calls, c.Params["DBInstanceType"]+":"+c.Params["PageNumber"])
			}
			if strings.Join(calls, " ") != tc.wantCalls {
				t.Errorf("DescribeDBInstances calls %v\nwant %s", calls, tc.wantCalls)
			}
			if n := f.sim.Count("DescribeDBInstanceAttribute"); n != 0 {
				t.Errorf("List sent %d DescribeDBInstanceAttribute; it reads no kernel", n)
			}
		})
	}
}

// The current DescribeDBInstances has no kernel version: List reads none, and Plan reads
// the kernel of the one instance it plans with DescribeDBInstanceAttribute.
func TestPlanReadsTheKernelOfItsInstanceOnly(t *testing.T) {
	f := start(t, state, "")
	p := f.open(t)
	got, err := p.List(context.Background(), provider.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	want := provider.Instance{ID: "dds-01", Region: "cn-hangzhou", Status: "Running", Phase: provider.PhaseReady,
		Values: provider.Values{"engineVersion": "4.4", "dbInstanceType": "replicate", "replicationFactor": int64(3)},
		Tags:   map[string]string{"env": "prod"}}
	if fmt.Sprint(got[0]) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", got[0], want)
	}
	if n := f.sim.Count("DescribeDBInstanceAttribute"); n != 0 {
		t.Errorf("List sent %d DescribeDBInstanceAttribute, want none", n)
	}
	changes, err := p.Plan(context.Background(), got[0], provider.Desired{"kernelVersion": "latest"})
	if err != nil || len(changes) != 1 {
		t.Fatalf("Plan = %v, %v", changes, err)
	}
	if from := changes[0].From["kernelVersion"]; from != oldInstanceKernel {
		t.Errorf("planned from %v, want the instance's %s", from, oldInstanceKernel)
	}
	calls := f.sim.CallsTo("DescribeDBInstanceAttribute")
	if len(calls) != 1 || calls[0].Params["DBInstanceId"] != "dds-01" {
		t.Errorf("attribute calls %+v; want one, for dds-01", calls)
	}
}

func TestPlanRules(t *testing.T) {
	tests := []struct {
		name     string
		instance string
		desired  provider.Desired
		wantTo   string // "" = no step
		wantErr  string
	}{
		{"latest resolves to the newest kernel of the engine version", "dds-01", provider.Desired{"kernelVersion": "latest"}, newestKernel, ""},
		{"the newest kernel named exactly is one step", "dds-01", provider.Desired{"kernelVersion": newestKernel}, newestKernel, ""},
		{"a sharded cluster can upgrade", "dds-05", provider.Desired{"kernelVersion": "latest"}, newestKernel, ""},
		{"an instance already on the newest kernel has nothing to do", "dds-02", provider.Desired{"kernelVersion": "latest"}, "", ""},
		{"the current kernel named exactly has nothing to do", "dds-01", provider.Desired{"kernelVersion": oldKernel}, "", ""},
		{"a standalone instance is rejected", "dds-03", provider.Desired{"kernelVersion": "latest"}, "",
			"the instance is a standalone instance (ReplicationFactor 1); UpgradeDBInstanceKernelVersion only upgrades replica sets and sharded clusters: leave it out of the selection"},
		{"a kernel the release notes do not list is rejected", "dds-01", provider.Desired{"kernelVersion": "mongodb_20990101_4.4.99"}, "",
			"kernelVersion: mongodb_20990101_4.4.99 is not a kernel of MongoDB 4.4; DescribeKernelReleaseNotes lists " +
				oldestKernel + ", " + oldKernel + ", " + newestKernel + "; use one of them or \"latest\""},
		{"an older kernel is rejected as a downgrade", "dds-01", provider.Desired{"kernelVersion": oldestKernel}, "",
			"kernelVersion: " + oldestKernel + " is older than the instance's kernel " + oldInstanceKernel + "; kernels cannot be downgraded"},
		{"a kernel in the instance spelling names the same kernel", "dds-01", provider.Desired{"kernelVersion": newestInstanceKernel}, newestInstanceKernel, ""},
		{"the current kernel in the release-note spelling has nothing to do", "dds-02", provider.Desired{"kernelVersion": newestKernel}, "", ""},
		{"maintenanceWindow must be a bool", "dds-01", provider.Desired{"kernelVersion": "latest", "maintenanceWindow": "yes"}, "",
			"maintenanceWindow: yes is not true or false"},
		{"an engine version without release notes is rejected", "dds-07", provider.Desired{"kernelVersion": "latest"}, "",
			"kernelVersion: DescribeKernelReleaseNotes lists no kernel for MongoDB 3.4; upgrade the engine version first"},
		{"a missing kernelVersion is rejected", "dds-01", provider.Desired{}, "",
			`kernelVersion: is required: an exact kernel version such as "mongodb_20240611_4.4.29", or "latest"`},
		{"a field of another kind is rejected", "dds-01", provider.Desired{"kernelVersion": "latest", "version": "2.2.0"}, "",
			`version: alibaba.mongodb does not take "version"; use kernelVersion and maintenanceWindow`},
	}
	f := start(t, state, "")
	p := f.open(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			changes, err := p.Plan(context.Background(), find(t, p, tc.instance), tc.desired)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %q\nwant  %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantTo == "" {
				if len(changes) != 0 {
					t.Fatalf("planned %+v, want nothing", changes)
				}
				return
			}
			if len(changes) != 1 {
				t.Fatalf("%d changes", len(changes))
			}
			c := changes[0]
			if c.Action != "UpgradeDBInstanceKernelVersion" || c.To["kernelVersion"] != tc.wantTo ||
				fmt.Sprint(c.Params) != fmt.Sprint(map[string]any{"DBInstanceId": tc.instance, "RegionId": "cn-hangzhou", "SwitchMode": "0"}) ||
				!slices.Contains(c.Notes, mongodb.NoteRestart) {
				t.Errorf("change %+v", c)
			}
		})
	}
	if n := f.sim.Count("DescribeKernelReleaseNotes"); n != 1 {
		t.Errorf("release notes read %d times, want once per provider", n)
	}
}

func TestSimulatorRefusals(t *testing.T) {
	tests := []struct {
		name     string
		instance string
		wantCode string
		status   int
	}{
		{"a standalone instance is refused", "dds-03", dds.CodeInstanceType, 403},
		{"an instance that is not Running is refused", "dds-04", dds.CodeInstanceStatus, 403},
		{"an instance on the newest kernel is refused", "dds-02", dds.CodeKernelLatest, 403},
		{"an unknown instance is not found", "dds-99", dds.CodeNotFound, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, state, "")
			p := f.open(t)
			_, err := p.Apply(context.Background(), provider.Call{Instance: tc.instance, Action: "UpgradeDBInstanceKernelVersion",
				Params: map[string]any{"DBInstanceId": tc.instance, "RegionId": "cn-hangzhou"}})
			pe, ok := provider.AsError(err)
			if !ok || pe.Code != tc.wantCode || pe.HTTPStatus != tc.status || pe.Class != provider.ClassPermanent || pe.RequestID == "" {
				t.Fatalf("got %v; want a permanent %s (HTTP %d) with a request id", err, tc.wantCode, tc.status)
			}
			if !strings.Contains(err.Error(), tc.instance) {
				t.Errorf("%q does not name the instance", err)
			}
			if f.sim.CountCode("UpgradeDBInstanceKernelVersion", tc.wantCode) != 1 {
				t.Errorf("the simulator did not log %s", tc.wantCode)
			}
		})
	}
}

func TestApplySendsExactlyThePlannedParameters(t *testing.T) {
	f := start(t, state, "")
	p := f.open(t)
	changes, err := p.Plan(context.Background(), find(t, p, "dds-01"), provider.Desired{"kernelVersion": "latest"})
	if err != nil || len(changes) != 1 {
		t.Fatalf("%v %v", changes, err)
	}
	r, err := p.Apply(context.Background(), provider.Call{Instance: "dds-01", Action: changes[0].Action, Params: changes[0].Params})
	if err != nil {
		t.Fatal(err)
	}
	calls := f.sim.CallsTo("UpgradeDBInstanceKernelVersion")
	want := map[string]string{"DBInstanceId": "dds-01", "RegionId": "cn-hangzhou", "SwitchMode": "0"}
	if len(calls) != 1 || fmt.Sprint(calls[0].Params) != fmt.Sprint(want) || r.RequestID != calls[0].RequestID {
		t.Errorf("simulator received %+v, receipt %+v; want %v", calls, r, want)
	}
}

func TestUpgradeLifecycle(t *testing.T) {
	tests := []struct {
		name       string
		faults     string
		wantFinal  provider.State
		wantKernel string
		wantMsg    string
	}{
		{"the kernel upgrade ends Running on the planned kernel", "", provider.StateDone, newestInstanceKernel, ""},
		{"a rolled-back upgrade fails naming both kernels", "failUpgrades: [dds-01]\n", provider.StateFailed, oldInstanceKernel,
			"instance dds-01 is still Running on kernel " + oldInstanceKernel + " | the upgrade to " + newestKernel + " never started or rolled back"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, state, tc.faults)
			p := f.open(t)
			ctx := context.Background()
			changes, err := p.Plan(ctx, find(t, p, "dds-01"), provider.Desired{"kernelVersion": "latest"})
			if err != nil || len(changes) != 1 {
				t.Fatalf("%v %v", changes, err)
			}
			c := changes[0]
			w := provider.Watch{Instance: "dds-01", Action: c.Action, From: c.From, To: c.To}
			observe := func(want provider.State) provider.Progress {
				t.Helper()
				pr, err := p.Observe(ctx, []provider.Watch{w})
				if err != nil {
					t.Fatal(err)
				}
				if pr[0].State != want {
					t.Fatalf("state %s (%s %s), want %s", pr[0].State, pr[0].Status, pr[0].Message, want)
				}
				return pr[0]
			}
			observe(provider.StatePending)
			if _, err := p.Apply(ctx, provider.Call{Instance: "dds-01", Action: c.Action, Params: c.Params}); err != nil {
				t.Fatal(err)
			}
			// The executor's call was accepted well before the grace ends, as after a long poll.
			w.Started, w.Since = true, time.Now().Add(-mongodb.StartGrace-time.Second)
			before := f.sim.Count("DescribeDBInstanceAttribute") + f.sim.Count("DescribeDBInstances")
			if pr := observe(provider.StateInProgress); pr.Status != "MinorVersionUpgrading" {
				t.Errorf("status %s during the upgrade", pr.Status)
			}
			// One watched instance: one DescribeDBInstanceAttribute beats a page of each type.
			if n := f.sim.Count("DescribeDBInstanceAttribute") + f.sim.Count("DescribeDBInstances") - before; n != 1 {
				t.Errorf("a poll of one instance during the upgrade sent %d calls, want 1", n)
			}
			f.clock.Advance(16 * time.Minute)
			final := observe(tc.wantFinal)
			msgOK := final.Message == tc.wantMsg
			if before, after, two := strings.Cut(tc.wantMsg, " | "); two {
				msgOK = strings.HasPrefix(final.Message, before) && strings.HasSuffix(final.Message, after)
			}
			if final.Observed["kernelVersion"] != tc.wantKernel || !msgOK {
				t.Errorf("observed %v %q; want %s %q", final.Observed, final.Message, tc.wantKernel, tc.wantMsg)
			}
		})
	}
}

func TestObserveBeforeTheCall(t *testing.T) {
	f := start(t, state, "")
	p := f.open(t)
	from, to := provider.Values{"kernelVersion": oldKernel}, provider.Values{"kernelVersion": newestKernel}
	watches := []provider.Watch{
		{Instance: "dds-01", From: from, To: to},
		{Instance: "dds-02", From: from, To: to},
		{Instance: "dds-04", From: from, To: to},
		{Instance: "dds-05", From: provider.Values{"kernelVersion": oldestKernel}, To: to},
		{Instance: "dds-98", From: from, To: to},
	}
	got, err := p.Observe(context.Background(), watches)
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.State{provider.StatePending, provider.StateDone, provider.StateWaiting, provider.StateDrifted, provider.StateMissing}
	for i := range want {
		if got[i].State != want[i] {
			t.Errorf("%s: %s (%s), want %s", watches[i].Instance, got[i].State, got[i].Message, want[i])
		}
	}
	if !strings.Contains(got[2].Message, "Rebooting") {
		t.Errorf("waiting message %q should say why", got[2].Message)
	}
	// Five watches not yet called, each needing its kernel: the by-id form reads each once
	// with DescribeDBInstanceAttribute (the missing one answers NotFound) and no list page.
	var read []string
	for _, c := range f.sim.CallsTo("DescribeDBInstanceAttribute") {
		read = append(read, c.Params["DBInstanceId"])
	}
	slices.Sort(read) // the reads go out side by side
	if strings.Join(read, " ") != "dds-01 dds-02 dds-04 dds-05 dds-98" {
		t.Errorf("DescribeDBInstanceAttribute for %v, want each watched id once", read)
	}
	if n := f.sim.Count("DescribeDBInstances"); n != 0 {
		t.Errorf("%d DescribeDBInstances calls, want none", n)
	}
}

func TestErrorClassesFromSimulatorFaults(t *testing.T) {
	tests := []struct {
		name      string
		action    string
		fault     string
		wantClass provider.Class
	}{
		{"an internal error on a page read is retryable", "DescribeDBInstances", "internal-error", provider.ClassRetryable},
		{"a service unavailable answer is retryable", "UpgradeDBInstanceKernelVersion", "unavailable", provider.ClassRetryable},
		{"a throttled upgrade is throttled", "UpgradeDBInstanceKernelVersion", "throttle", provider.ClassThrottled},
		{"a dropped upgrade has an unknown outcome", "UpgradeDBInstanceKernelVersion", "drop", provider.ClassUnknown},
		{"a dropped page read is retryable", "DescribeDBInstances", "drop", provider.ClassRetryable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, state, fmt.Sprintf("rules:\n  - {product: dds, action: %s, fault: %s, times: 1}\n", tc.action, tc.fault))
			p := f.open(t)
			var err error
			if tc.action == "DescribeDBInstances" {
				_, err = p.List(context.Background(), provider.Selection{})
			} else {
				_, err = p.Apply(context.Background(), provider.Call{Instance: "dds-01", Action: tc.action,
					Params: map[string]any{"DBInstanceId": "dds-01", "RegionId": "cn-hangzhou"}})
			}
			if got := provider.ClassOf(err); got != tc.wantClass {
				t.Fatalf("class %s (%v), want %s", got, err, tc.wantClass)
			}
		})
	}
}

func TestConcurrentPlansShareOneReleaseNotesRead(t *testing.T) {
	f := start(t, manyInstances(30, 10), "")
	p := f.open(t)
	insts, err := p.List(context.Background(), provider.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var bad atomic.Int32
	for _, inst := range insts {
		wg.Go(func() {
			ch, err := p.Plan(context.Background(), inst, provider.Desired{"kernelVersion": "latest"})
			if err != nil || len(ch) != 1 || ch[0].To["kernelVersion"] != newestKernel {
				bad.Add(1)
			}
		})
		wg.Go(func() {
			if _, err := p.Observe(context.Background(), []provider.Watch{{Instance: inst.ID,
				From: provider.Values{"kernelVersion": oldKernel}, To: provider.Values{"kernelVersion": newestKernel}}}); err != nil {
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	if bad.Load() != 0 || f.sim.Count("DescribeKernelReleaseNotes") != 1 {
		t.Errorf("%d bad plans or observations, %d release-note reads; want 0 and 1", bad.Load(), f.sim.Count("DescribeKernelReleaseNotes"))
	}
}

func TestEndpointMatchesTheSDKsMap(t *testing.T) {
	tests := []struct{ region, want string }{
		{"cn-hangzhou", "mongodb.aliyuncs.com"},
		{"cn-beijing", "mongodb.aliyuncs.com"},
		{"ap-southeast-1", "mongodb.ap-southeast-1.aliyuncs.com"},
		{"eu-central-1", "mongodb.eu-central-1.aliyuncs.com"},
	}
	for _, tc := range tests {
		if got := mongodb.Endpoint(tc.region); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.region, got, tc.want)
		}
	}
}

// maintenanceWindow: true sends SwitchMode=1; the instance then stays Running on its old
// kernel until its window, and the step waits for it instead of failing after the start
// grace. Without it the call sends SwitchMode=0.
func TestMaintenanceWindowWaitsPastTheStartGrace(t *testing.T) {
	f := start(t, state, "") // 01:00Z; the simulator's default window opens at 02:00Z
	p := f.open(t)
	ctx := context.Background()
	changes, err := p.Plan(ctx, find(t, p, "dds-01"), provider.Desired{"kernelVersion": "latest", "maintenanceWindow": true})
	if err != nil || len(changes) != 1 {
		t.Fatalf("%v %v", changes, err)
	}
	c := changes[0]
	if c.Params["SwitchMode"] != "1" || !slices.Contains(c.Notes, mongodb.NoteMaintenanceWindow) {
		t.Fatalf("change %+v, want SwitchMode 1 and the maintenance-window note", c)
	}
	if err := mongodb.Recheck("cn-hangzhou", "dds-01", c); err != nil {
		t.Errorf("apply's re-check refuses the planned change: %v", err)
	}
	if _, err := p.Apply(ctx, provider.Call{Instance: "dds-01", Action: c.Action, Params: c.Params}); err != nil {
		t.Fatal(err)
	}
	if sent := f.sim.CallsTo("UpgradeDBInstanceKernelVersion")[0].Params["SwitchMode"]; sent != "1" {
		t.Errorf("sent SwitchMode %q, want 1", sent)
	}
	w := provider.Watch{Instance: "dds-01", Action: c.Action, From: c.From, To: c.To, Started: true, Since: time.Now().Add(-time.Hour)}
	f.clock.Advance(30 * time.Minute)
	pr, err := p.Observe(ctx, []provider.Watch{w})
	if err != nil || pr[0].State != provider.StateInProgress || pr[0].Status != "Running" {
		t.Fatalf("before the window, an hour after the call: %+v, %v; want in progress while Running", pr, err)
	}
	f.clock.Advance(50 * time.Minute)
	pr, err = p.Observe(ctx, []provider.Watch{w})
	if err != nil || pr[0].State != provider.StateDone {
		t.Fatalf("after the window: %+v, %v; want done", pr, err)
	}
}

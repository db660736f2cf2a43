package kafka_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/kafka"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/provider"
	kafkap "github.com/upgradeplan/upgradeplan/provider/alibaba/kafka"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
)

const state = `
accounts:
  - {name: ali, cloud: alibaba, keyId: ak-1, secret: sk-1}
  - {name: other, cloud: alibaba, keyId: ak-2, secret: sk-2}
durations: {kafka: 10m}
kafka:
  - {id: k-01, region: cn-hangzhou, account: ali, version: 0.10.2, tags: {env: prod, team: a}}
  - {id: k-02, region: cn-hangzhou, account: ali, version: 0.10.2, tags: {env: prod, team: b}}
  - {id: k-03, region: cn-hangzhou, account: ali, version: 2.2.0, tags: {env: prod, team: a}}
  - {id: k-04, region: cn-hangzhou, account: ali, version: 0.10.2, tags: {env: dev}}
  - {id: k-05, region: cn-hangzhou, account: ali, version: 0.10.2, status: upgrading, tags: {env: prod}}
  - {id: k-06, region: cn-shanghai, account: ali, version: 0.10.2, tags: {env: prod}}
  - {id: k-07, region: cn-hangzhou, account: other, version: 0.10.2, tags: {env: prod}}
`

// newClock returns a settable clock for the simulator, so lifecycles advance without sleeping.
func newClock() *simtest.Clock {
	return simtest.NewClock(time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC))
}

type fixture struct {
	sim   *simtest.Sim
	clock *simtest.Clock
}

func start(t *testing.T, faults string) fixture {
	t.Helper()
	c := newClock()
	s := simtest.Start(t, state, sim.Options{Now: c.Now, Faults: []byte(faults)}, kafka.New())
	return fixture{sim: s, clock: c}
}

func (f fixture) open(t *testing.T, region string, mutate ...func(*provider.Config)) *kafkap.Provider {
	t.Helper()
	env := map[string]string{"UPGRADEPLAN_ALIBABA_ENDPOINT": f.sim.Addr, "ALI_AK": "ak-1", "ALI_SK": "sk-1"}
	cfg := provider.Config{
		Region:  region,
		Account: provider.Account{Name: "ali", Cloud: "alibaba", KeyID: provider.SecretRef{FromEnv: "ALI_AK"}, Secret: provider.SecretRef{FromEnv: "ALI_SK"}},
		Getenv:  providertest.Getenv(env),
		Timeout: 2 * time.Second,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	p, err := kafkap.New(cfg)
	if err != nil {
		t.Fatalf("kafka.New: %v", err)
	}
	return p
}

func ids(insts []provider.Instance) []string {
	var out []string
	for _, i := range insts {
		out = append(out, i.ID)
	}
	return out
}

func find(t *testing.T, p *kafkap.Provider, id string) provider.Instance {
	t.Helper()
	insts, err := p.List(context.Background(), provider.Selection{IDs: []string{id}})
	if err != nil || len(insts) != 1 {
		t.Fatalf("list %s: %v %v", id, insts, err)
	}
	return insts[0]
}

func TestListReadsTheRegionInOneCall(t *testing.T) {
	tests := []struct {
		name string
		sel  provider.Selection
		want []string
	}{
		{"a tag selects the account's instances of the region carrying it", provider.Selection{Tags: map[string]string{"env": "prod"}},
			[]string{"k-01", "k-02", "k-03", "k-05"}},
		{"two tags select instances carrying both", provider.Selection{Tags: map[string]string{"env": "prod", "team": "a"}},
			[]string{"k-01", "k-03"}},
		{"ids select exactly those instances", provider.Selection{IDs: []string{"k-04", "k-02"}}, []string{"k-02", "k-04"}},
		{"ids and tags select the intersection", provider.Selection{IDs: []string{"k-01", "k-04"}, Tags: map[string]string{"env": "prod"}},
			[]string{"k-01"}},
		{"another region's or account's instance is never listed", provider.Selection{IDs: []string{"k-06", "k-07"}}, nil},
		{"no selection lists the whole region", provider.Selection{}, []string{"k-01", "k-02", "k-03", "k-04", "k-05"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, "")
			p := f.open(t, "cn-hangzhou")
			got, err := p.List(context.Background(), tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("listed %v, want %v", ids(got), tc.want)
			}
			if n := f.sim.Count("GetInstanceList"); n != 1 {
				t.Errorf("%d GetInstanceList calls, want 1", n)
			}
		})
	}
}

func TestListDecodesVersionStatusAndTags(t *testing.T) {
	f := start(t, "")
	p := f.open(t, "cn-hangzhou")
	got, err := p.List(context.Background(), provider.Selection{IDs: []string{"k-03", "k-05"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.Instance{
		{ID: "k-03", Region: "cn-hangzhou", Status: "running", Phase: provider.PhaseReady,
			Values: provider.Values{"version": "2.2.0"}, Tags: map[string]string{"env": "prod", "team": "a"}},
		{ID: "k-05", Region: "cn-hangzhou", Status: "upgrading", Phase: provider.PhaseBusy,
			Values: provider.Values{"version": "0.10.2"}, Tags: map[string]string{"env": "prod"}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestPlanFollowsTheTransitionTable(t *testing.T) {
	tests := []struct {
		name      string
		instance  string
		desired   provider.Desired
		wantSteps int
		wantTo    provider.Values
		wantNote  string
		wantErr   string // the message users see
	}{
		{"0.10.2 to 2.2.0 is one one-way step", "k-01", provider.Desired{"version": "2.2.0"},
			1, provider.Values{"version": "2.2.0"}, kafkap.NoteOneWay, ""},
		{"the same major version without latestMinor is nothing to do", "k-03", provider.Desired{"version": "2.2.0"},
			0, nil, "", ""},
		{"the same major version with latestMinor is one step every time", "k-03", provider.Desired{"version": "2.2.0", "latestMinor": true},
			1, provider.Values{"version": "2.2.0", "latestMinor": true}, kafkap.NoteLatestMinor, ""},
		{"2.2.0 to 0.10.2 is rejected as a major downgrade", "k-03", provider.Desired{"version": "0.10.2"},
			0, nil, "", `version: the instance runs 2.2.0; UpgradeInstanceVersion cannot downgrade a major version to 0.10.2: set version to "2.2.0" or leave this instance out of the selection`},
		{"a version outside the table is rejected", "k-01", provider.Desired{"version": "3.0.0"},
			0, nil, "", `version: 3.0.0 is not a Kafka major version UpgradeInstanceVersion accepts; use "0.10.2" or "2.2.0"`},
		{"a missing version is rejected", "k-01", provider.Desired{"latestMinor": true},
			0, nil, "", `version: is required: "0.10.2" or "2.2.0"`},
		{"a latestMinor that is not a bool is rejected", "k-01", provider.Desired{"version": "2.2.0", "latestMinor": "yes"},
			0, nil, "", "latestMinor: yes is not true or false"},
	}
	f := start(t, "")
	p := f.open(t, "cn-hangzhou")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inst := find(t, p, tc.instance)
			changes, err := p.Plan(context.Background(), inst, tc.desired)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %q, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) != tc.wantSteps {
				t.Fatalf("%d steps, want %d: %+v", len(changes), tc.wantSteps, changes)
			}
			if tc.wantSteps == 0 {
				return
			}
			c := changes[0]
			wantParams := map[string]any{"InstanceId": tc.instance, "RegionId": "cn-hangzhou", "TargetVersion": tc.desired["version"]}
			if c.Action != "UpgradeInstanceVersion" || fmt.Sprint(c.Params) != fmt.Sprint(wantParams) {
				t.Errorf("call %s %v, want UpgradeInstanceVersion %v", c.Action, c.Params, wantParams)
			}
			if fmt.Sprint(c.To) != fmt.Sprint(tc.wantTo) || !slices.Contains(c.Notes, tc.wantNote) {
				t.Errorf("to %v notes %q; want %v and a note %q", c.To, c.Notes, tc.wantTo, tc.wantNote)
			}
		})
	}
}

// Apply with a hand-made call reaches the simulator's own rule checks, as a stale plan would.
func TestSimulatorRefusalsBecomeClassifiedErrors(t *testing.T) {
	tests := []struct {
		name     string
		instance string
		target   string
		wantCode string
	}{
		{"a major downgrade is refused with HTTP 200 and Success false", "k-03", "0.10.2", kafka.CodeDowngrade},
		{"an instance that is not running is refused", "k-05", "2.2.0", kafka.CodeInstanceStatus},
		{"an instance of another account is not found", "k-07", "2.2.0", kafka.CodeInstanceNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, "")
			p := f.open(t, "cn-hangzhou")
			_, err := p.Apply(context.Background(), provider.Call{Instance: tc.instance, Action: "UpgradeInstanceVersion",
				Params: map[string]any{"InstanceId": tc.instance, "RegionId": "cn-hangzhou", "TargetVersion": tc.target}})
			pe, ok := provider.AsError(err)
			// The body's Code is a number (400, 404 for an unknown instance); the reason leads the message.
			wantCode := "400"
			if tc.wantCode == kafka.CodeInstanceNotFound {
				wantCode = "404"
			}
			if !ok || pe.Code != wantCode || !strings.HasPrefix(pe.Message, tc.wantCode) || pe.Class != provider.ClassPermanent || pe.RequestID == "" || pe.Instance != tc.instance {
				t.Fatalf("got %v; want a permanent %s (%s) error naming %s with a request id", err, wantCode, tc.wantCode, tc.instance)
			}
			if !strings.Contains(err.Error(), tc.instance) || !strings.Contains(err.Error(), pe.RequestID) {
				t.Errorf("message %q should name the instance and the request id", err)
			}
		})
	}
}

func TestApplySendsExactlyThePlannedParameters(t *testing.T) {
	f := start(t, "")
	p := f.open(t, "cn-hangzhou")
	changes, err := p.Plan(context.Background(), find(t, p, "k-01"), provider.Desired{"version": "2.2.0"})
	if err != nil || len(changes) != 1 {
		t.Fatalf("plan: %v %v", changes, err)
	}
	receipt, err := p.Apply(context.Background(), provider.Call{Instance: "k-01", Action: changes[0].Action, Params: changes[0].Params})
	if err != nil {
		t.Fatal(err)
	}
	calls := f.sim.CallsTo("UpgradeInstanceVersion")
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	got := calls[0].Params
	want := map[string]string{}
	for k, v := range changes[0].Params {
		want[k] = fmt.Sprint(v)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("simulator received %v, plan said %v", got, want)
	}
	if receipt.RequestID != calls[0].RequestID {
		t.Errorf("receipt request id %q, simulator answered %q", receipt.RequestID, calls[0].RequestID)
	}
}

func TestUpgradeLifecycle(t *testing.T) {
	tests := []struct {
		name        string
		instance    string
		desired     provider.Desired
		faults      string
		wantFinal   provider.State
		wantVersion string
	}{
		{"a major upgrade goes pending, in progress, then done at 2.2.0", "k-01", provider.Desired{"version": "2.2.0"}, "",
			provider.StateDone, "2.2.0"},
		{"a latestMinor step is done when the instance runs again", "k-03", provider.Desired{"version": "2.2.0", "latestMinor": true}, "",
			provider.StateDone, "2.2.0"},
		{"an upgrade the cloud fails ends failed at the old version", "k-02", provider.Desired{"version": "2.2.0"}, "failUpgrades: [k-02]\n",
			provider.StateFailed, "0.10.2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, tc.faults)
			p := f.open(t, "cn-hangzhou")
			ctx := context.Background()
			changes, err := p.Plan(ctx, find(t, p, tc.instance), tc.desired)
			if err != nil || len(changes) != 1 {
				t.Fatalf("plan: %v %v", changes, err)
			}
			c := changes[0]
			w := provider.Watch{Instance: tc.instance, Action: c.Action, From: c.From, To: c.To}
			observe := func(want provider.State) provider.Progress {
				t.Helper()
				before := f.sim.Count("GetInstanceList")
				pr, err := p.Observe(ctx, []provider.Watch{w})
				if err != nil {
					t.Fatal(err)
				}
				if f.sim.Count("GetInstanceList") != before+1 {
					t.Errorf("Observe made %d list calls, want 1", f.sim.Count("GetInstanceList")-before)
				}
				if pr[0].State != want {
					t.Fatalf("state %s (%s), want %s", pr[0].State, pr[0].Message, want)
				}
				return pr[0]
			}
			observe(provider.StatePending)
			if _, err := p.Apply(ctx, provider.Call{Instance: tc.instance, Action: c.Action, Params: c.Params}); err != nil {
				t.Fatal(err)
			}
			w.Started, w.Since = true, time.Now()
			observe(provider.StateInProgress)
			f.clock.Advance(9 * time.Minute)
			observe(provider.StateInProgress)
			f.clock.Advance(2 * time.Minute)
			final := observe(tc.wantFinal)
			if final.Observed["version"] != tc.wantVersion {
				t.Errorf("observed version %v, want %s", final.Observed["version"], tc.wantVersion)
			}
			if tc.wantFinal == provider.StateFailed && !strings.Contains(final.Message, "102") {
				t.Errorf("failure message %q should say why", final.Message)
			}
		})
	}
}

func TestObserveBeforeTheCall(t *testing.T) {
	f := start(t, "")
	p := f.open(t, "cn-hangzhou")
	watches := []provider.Watch{
		{Instance: "k-01", From: provider.Values{"version": "0.10.2"}, To: provider.Values{"version": "2.2.0"}},
		{Instance: "k-03", From: provider.Values{"version": "0.10.2"}, To: provider.Values{"version": "2.2.0"}},
		{Instance: "k-03", From: provider.Values{"version": "2.2.0"}, To: provider.Values{"version": "2.2.0", "latestMinor": true}},
		{Instance: "k-05", From: provider.Values{"version": "0.10.2"}, To: provider.Values{"version": "2.2.0"}},
		{Instance: "k-04", From: provider.Values{"version": "2.2.0"}, To: provider.Values{"version": "2.2.0", "latestMinor": true}},
		{Instance: "k-99", From: provider.Values{"version": "0.10.2"}, To: provider.Values{"version": "2.2.0"}},
	}
	got, err := p.Observe(context.Background(), watches)
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.State{
		provider.StatePending, // ready at `from`
		provider.StateDone,    // already at `to`: a noop
		provider.StatePending, // a latestMinor step is never a noop
		provider.StateWaiting, // upgrading: wait before calling
		provider.StateDrifted, // no longer at `from`
		provider.StateMissing, // gone
	}
	for i := range want {
		if got[i].State != want[i] || got[i].Instance != watches[i].Instance {
			t.Errorf("watch %d (%s): %s %q, want %s", i, watches[i].Instance, got[i].State, got[i].Message, want[i])
		}
	}
	if n := f.sim.Count("GetInstanceList"); n != 1 {
		t.Errorf("%d list calls for six watches, want 1", n)
	}
}

func TestErrorClassesFromSimulatorFaults(t *testing.T) {
	tests := []struct {
		name      string
		fault     string
		wantClass provider.Class
		wantCode  string
		applied   bool // whether the instance must be upgrading afterwards
	}{
		{"an internal error is retryable", "internal-error", provider.ClassRetryable, "InternalError", false},
		{"a service unavailable answer is retryable", "unavailable", provider.ClassRetryable, "ServiceUnavailable", false},
		{"alikafka's own throttle, ONS_SYSTEM_FLOW_CONTROL, is throttled", "throttle", provider.ClassThrottled, "ONS_SYSTEM_FLOW_CONTROL", false},
		{"the gateway's Rejected.Throttling is throttled", "error, code: Rejected.Throttling", provider.ClassThrottled, "Rejected.Throttling", false},
		{"Throttling.User is throttled", "error, code: Throttling.User", provider.ClassThrottled, "Throttling.User", false},
		{"an HTTP 200 Success:false body with Code 500 is retryable", "error, code: \"500\", status: 200", provider.ClassRetryable, "500", false},
		{"an HTTP 200 Success:false body with Code 503 is retryable", "error, code: \"503\", status: 200", provider.ClassRetryable, "503", false},
		{"an HTTP 200 Success:false body with Code 400 is permanent", "error, code: \"400\", status: 200", provider.ClassPermanent, "400", false},
		{"a connection dropped after the upgrade was applied leaves the outcome unknown", "drop", provider.ClassUnknown, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, fmt.Sprintf("rules:\n  - {product: alikafka, action: UpgradeInstanceVersion, fault: %s}\n", tc.fault))
			p := f.open(t, "cn-hangzhou")
			_, err := p.Apply(context.Background(), provider.Call{Instance: "k-01", Action: "UpgradeInstanceVersion",
				Params: map[string]any{"InstanceId": "k-01", "RegionId": "cn-hangzhou", "TargetVersion": "2.2.0"}})
			pe, ok := provider.AsError(err)
			if !ok || pe.Class != tc.wantClass || (tc.wantCode != "" && pe.Code != tc.wantCode) {
				t.Fatalf("got %v (class %s); want class %s code %q", err, provider.ClassOf(err), tc.wantClass, tc.wantCode)
			}
			if got := find(t, p, "k-01").Status == "upgrading"; got != tc.applied {
				t.Errorf("instance upgrading = %v, want %v", got, tc.applied)
			}
		})
	}
	t.Run("an answer slower than the timeout leaves the upgrade's outcome unknown", func(t *testing.T) {
		f := start(t, "rules:\n  - {product: alikafka, action: UpgradeInstanceVersion, fault: latency, latency: 2s}\n")
		p := f.open(t, "cn-hangzhou", func(c *provider.Config) { c.Timeout = 100 * time.Millisecond })
		_, err := p.Apply(context.Background(), provider.Call{Instance: "k-01", Action: "UpgradeInstanceVersion",
			Params: map[string]any{"InstanceId": "k-01", "RegionId": "cn-hangzhou", "TargetVersion": "2.2.0"}})
		if provider.ClassOf(err) != provider.ClassUnknown {
			t.Fatalf("got %v, want outcome-unknown", err)
		}
	})
	t.Run("a wrong secret is refused permanently and never shown", func(t *testing.T) {
		f := start(t, "")
		p := f.open(t, "cn-hangzhou", func(c *provider.Config) {
			c.Getenv = func(k string) string {
				return map[string]string{"UPGRADEPLAN_ALIBABA_ENDPOINT": f.sim.Addr, "ALI_AK": "ak-1", "ALI_SK": "wrong-secret-value"}[k]
			}
		})
		_, err := p.List(context.Background(), provider.Selection{})
		pe, ok := provider.AsError(err)
		if !ok || pe.Code != "SignatureDoesNotMatch" || pe.Class != provider.ClassPermanent || strings.Contains(err.Error(), "wrong-secret-value") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestBurstAboveTheCapIsThrottledNotLost(t *testing.T) {
	f := start(t, "")
	p := f.open(t, "cn-hangzhou")
	targets := []string{"k-01", "k-02", "k-04", "k-03"}
	var wg sync.WaitGroup
	errs := make([]error, len(targets))
	for i, id := range targets {
		wg.Go(func() {
			_, errs[i] = p.Apply(context.Background(), provider.Call{Instance: id, Action: "UpgradeInstanceVersion",
				Params: map[string]any{"InstanceId": id, "RegionId": "cn-hangzhou", "TargetVersion": "2.2.0"}})
		})
	}
	wg.Wait()
	throttled, accepted := 0, 0
	for _, err := range errs {
		switch provider.ClassOf(err) {
		case provider.ClassThrottled:
			throttled++
		}
		if err == nil {
			accepted++
		}
	}
	// The simulator's clock does not move: four calls in one instant against a cap of 2.
	if accepted != kafkap.UpgradeQPS || throttled != len(targets)-kafkap.UpgradeQPS {
		t.Errorf("accepted %d, throttled %d (%v); want %d accepted and the rest throttled", accepted, throttled, errs, kafkap.UpgradeQPS)
	}
}

func TestConcurrentCallsThroughOneProvider(t *testing.T) {
	f := start(t, "")
	p := f.open(t, "cn-hangzhou")
	var wg sync.WaitGroup
	var failures atomic.Int32
	for i := range 16 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = p.List(context.Background(), provider.Selection{Tags: map[string]string{"env": "prod"}})
			} else {
				_, err = p.Observe(context.Background(), []provider.Watch{{Instance: "k-01", From: provider.Values{"version": "0.10.2"}, To: provider.Values{"version": "2.2.0"}}})
			}
			if err != nil {
				failures.Add(1)
			}
		})
	}
	wg.Wait()
	if failures.Load() != 0 || f.sim.Count("GetInstanceList") != 16 {
		t.Errorf("%d failures, %d calls; want 0 and 16", failures.Load(), f.sim.Count("GetInstanceList"))
	}
}

func TestSpecDocumentsTheCap(t *testing.T) {
	s := kafkap.Spec()
	var caps []string
	for _, a := range s.Actions {
		caps = append(caps, fmt.Sprintf("%s/%v/%g", a.Name, a.Mutating, a.QPS))
	}
	want := []string{"GetInstanceList/false/0", "UpgradeInstanceVersion/true/2"}
	if s.Kind != "alibaba.kafka" || s.Cloud != "alibaba" || s.IdempotencyToken || !slices.Equal(caps, want) {
		t.Errorf("spec %s %s %v %v", s.Kind, s.Cloud, s.IdempotencyToken, caps)
	}
}

// A latestMinor call on an instance already at the latest minor version has nothing to do:
// alikafka refuses it with ONS_INIT_ENV_ERROR (which Alibaba's Terraform provider takes as
// "no need to update version"), and the provider says so with ClassNoChange, keeping the
// code and request id, so the executor records a noop instead of a failure.
func TestACallWithNothingToUpgradeIsNoChange(t *testing.T) {
	c := newClock()
	s := simtest.Start(t, state+"  - {id: k-latest, region: cn-hangzhou, account: ali, version: 2.2.0, minorLatest: true, tags: {env: qa}}\n",
		sim.Options{Now: c.Now}, kafka.New())
	p := fixture{sim: s, clock: c}.open(t, "cn-hangzhou")
	call := func(id string) error {
		_, err := p.Apply(context.Background(), provider.Call{Instance: id, Action: "UpgradeInstanceVersion",
			Params: map[string]any{"InstanceId": id, "RegionId": "cn-hangzhou", "TargetVersion": "2.2.0"}})
		return err
	}
	err := call("k-latest")
	pe, ok := provider.AsError(err)
	if !ok || pe.Class != provider.ClassNoChange || !strings.Contains(pe.Message, kafkap.CodeNothingToUpgrade) || pe.RequestID == "" {
		t.Fatalf("got %v (class %s); want no-change with the code and a request id", err, provider.ClassOf(err))
	}
	if n := len(s.CallsTo("UpgradeInstanceVersion")); n != 1 {
		t.Errorf("%d calls; want 1", n)
	}
	// Not at the latest minor version: the same call is accepted.
	if err := call("k-03"); err != nil {
		t.Errorf("a latestMinor call on k-03 (not at the latest minor version): %v", err)
	}
}

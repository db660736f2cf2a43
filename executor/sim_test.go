package executor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	cnsim "github.com/upgradeplan/upgradeplan/cloudsim/computenest"
	kafkasim "github.com/upgradeplan/upgradeplan/cloudsim/kafka"
	amqpsim "github.com/upgradeplan/upgradeplan/cloudsim/amqp"
	redissim "github.com/upgradeplan/upgradeplan/cloudsim/redis"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/manifest"
	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/computenest"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/kafka"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/rabbitmq"
	"github.com/upgradeplan/upgradeplan/provider/tencent/redis"
)

// The integration tests run the real SDKs against cloudsim: an upgrade takes 60 simulated
// seconds, and the simulator runs 600 times faster than the wall clock (0.1 s).
const (
	timeScale = 600
	accounts  = `accounts:
  - {name: demo-ali, cloud: alibaba, keyId: demo-ak, secret: demo-sk}
  - {name: demo-tc, cloud: tencent, keyId: demo-id, secret: demo-key}
durations: {kafka: 60s, mongodb: 60s, rabbitmq: 60s, computenest: 60s, redis: 60s}
`
)

func registry() provider.Registry {
	return provider.Registry{
		kafka.Kind:       kafka.Spec(),
		rabbitmq.Kind:    rabbitmq.Spec(),
		computenest.Kind: computenest.Spec(),
		redis.Kind:       redis.Spec(),
	}
}

// mutating are the upgrade actions of the five products and the executor's cap for each.
var mutating = map[string]string{
	"UpgradeInstanceVersion": "alibaba.kafka", "UpdateInstance": "alibaba.rabbitmq",
	"UpgradeServiceInstance": "alibaba.computenest", "UpgradeInstance": "tencent.redis",
	"UpgradeDBInstanceKernelVersion": "alibaba.mongodb",
}

// demoState assembles the products' demo sections into one state file.
func demoState(t *testing.T, extra string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(accounts)
	b.WriteString(extra)
	for _, p := range []string{"kafka", "amqp", "computenest", "redis"} {
		data, err := os.ReadFile(filepath.Join("..", "cloudsim", p, "testdata", "demo-state.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteString("\n")
	}
	return b.String()
}

func startSim(t *testing.T, state, faults string) *simtest.Sim {
	t.Helper()
	s := simtest.Start(t, state, sim.Options{TimeScale: timeScale, Faults: []byte(faults)},
		kafkasim.New(), amqpsim.New(), cnsim.New(), redissim.New())
	s.SetEnv(t)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "demo-ak")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "demo-sk")
	t.Setenv("TENCENTCLOUD_SECRET_ID", "demo-id")
	t.Setenv("TENCENTCLOUD_SECRET_KEY", "demo-key")
	t.Setenv("DEMO_SI_PASSWORD", "s3cret-Pa55")
	return s
}

// fleetYAML is the demo fleet without MongoDB, polling fast.
const fleetYAML = `apiVersion: upgradeplan/v1
kind: Fleet
metadata: {name: itest, owner: platform}
settings:
  pollInterval: 100ms
  stepTimeout: 30s
  %s
targets:
  - name: kafka-hz
    kind: alibaba.kafka
    region: cn-hangzhou
    select: {tags: {env: demo}}
    desired: {version: "2.2.0"}
    canary: 1
    maxConcurrent: 2
  - name: rabbit-hz
    kind: alibaba.rabbitmq
    region: cn-hangzhou
    select: {ids: [amqp-demo-1, amqp-demo-2]}
    desired: {maxPrivateTps: 5000, queueCapacity: 2000}
    dependsOn: [kafka-hz]
  - name: marketplace
    kind: alibaba.computenest
    region: cn-hangzhou
    select: {tags: {env: demo}}
    desired:
      serviceVersion: "3"
      parameters: {EcsInstanceType: ecs.g7.large, InstancePassword: {fromEnv: DEMO_SI_PASSWORD}}
  - name: cache-sh
    kind: tencent.redis
    region: ap-shanghai
    select: {tags: {env: demo}}
    desired: {memSizeMB: 8192, shards: 4}
    dependsOn: [rabbit-hz]
`

// makePlan plans the fleet against the running simulator and writes the plan file, read back
// as apply reads it.
func makePlan(t *testing.T, settings string) (*planner.Plan, string) {
	t.Helper()
	fleet, err := manifest.Parse("fleet.yaml", []byte(fmt.Sprintf(fleetYAML, settings)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Build(context.Background(), fleet, registry(), planner.Options{ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := planner.WriteFile(path, p); err != nil {
		t.Fatal(err)
	}
	p, err = planner.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return p, path
}

func apply(t *testing.T, ctx context.Context, p *planner.Plan, planPath, out string, resume bool) *executor.Record {
	t.Helper()
	rec, err := executor.Apply(ctx, p, executor.Options{Registry: registry(), PlanPath: planPath, Out: out, Resume: resume,
		Seed: 1, RequestTimeout: 5 * time.Second, Retry: executor.Retry{Base: 20 * time.Millisecond, Cap: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// upgradesPerInstance counts the accepted mutating calls (a dropped answer after the change
// was applied included) per instance; Compute Nest's dry runs (plan's preflight) change
// nothing and are not counted.
func upgradesPerInstance(s *simtest.Sim) map[string]int {
	out := map[string]int{}
	for _, c := range s.Calls() {
		if _, ok := mutating[c.Action]; ok && c.OK() && c.Params["DryRun"] != "true" {
			out[c.Instance]++
		}
	}
	return out
}

// stepsPerInstance counts the plan's steps per instance.
func stepsPerInstance(p *planner.Plan) map[string]int {
	out := map[string]int{}
	for _, s := range p.Steps {
		out[s.Instance]++
	}
	return out
}

// checkCaps fails when any (account, action) received more requests in a one-second window
// than the executor's cap for it, throttled requests included.
func checkCaps(t *testing.T, s *simtest.Sim, p *planner.Plan) {
	t.Helper()
	l := executor.NewLimiter(registry(), p.Settings, executor.LimiterOptions{})
	kindOf := map[string]string{"alikafka": kafka.Kind, "amqp-open": rabbitmq.Kind, "computenestsupplier": computenest.Kind, "redis": redis.Kind}
	byKey := map[string][]time.Time{}
	for _, c := range s.Calls() {
		k := c.Account + " " + kindOf[c.Product] + "/" + c.Action
		byKey[k] = append(byKey[k], c.Time)
	}
	for k, times := range byKey {
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		_, action, _ := strings.Cut(k, " ")
		limit := int(l.Rate(action))
		for i := range times {
			n := 0
			for j := i; j < len(times) && times[j].Sub(times[i]) < time.Second; j++ {
				n++
			}
			if n > limit {
				t.Errorf("%s: %d requests within one second from %s, the cap is %d", k, n, times[i].Format("15:04:05.000"), limit)
				break
			}
		}
	}
}

func TestMixedFleetAppliesToCompletionAgainstTheSimulator(t *testing.T) {
	s := startSim(t, demoState(t, ""), "")
	p, path := makePlan(t, "parallelism: 20")
	if len(p.Steps) < 12 {
		t.Fatalf("plan has %d steps; want the demo's changes", len(p.Steps))
	}
	rec := apply(t, context.Background(), p, path, t.TempDir(), false)
	if rec.Outcome.ExitCode != executor.ExitOK || rec.Counts[executor.StatusSucceeded] != len(p.Steps) {
		for _, st := range rec.Steps {
			t.Logf("%s %s %s %+v", st.ID, st.Status, st.Reason, st.Error)
		}
		t.Fatalf("outcome %+v counts %v, want all %d succeeded", rec.Outcome, rec.Counts, len(p.Steps))
	}
	want := stepsPerInstance(p)
	got := upgradesPerInstance(s)
	for id, n := range want {
		if got[id] != n {
			t.Errorf("%s: %d mutating calls, want %d (one per change)", id, got[id], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("mutating calls reached %d instances, the plan has %d", len(got), len(want))
	}
	checkCaps(t, s, p)
	for _, c := range s.Calls() {
		if c.Code != "" {
			t.Errorf("%s %s answered %s: want no errors and no throttling at the default caps", c.Action, c.Instance, c.Code)
		}
	}
	again, _ := makePlan(t, "parallelism: 20")
	if len(again.Steps) != 0 {
		t.Errorf("planning again finds %d steps, want none: %+v", len(again.Steps), again.Steps[0])
	}
}

package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/internal/pgtest"
	"github.com/upgradeplan/upgradeplan/planner"
)

// cliBinary is the upgradeplan command built by TestMain for this test run.
var cliBinary string

// TestMain builds the command line once (with the race detector when the tests run with
// it), so every test runs the binary a user runs.
func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "upgradeplan-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The applies these tests start keep their plan locks and ledgers in this run's
	// directory, not the user's cache, where another run could hold them.
	if os.Getenv("UPGRADEPLAN_LOCK_DIR") == "" {
		os.Setenv("UPGRADEPLAN_LOCK_DIR", filepath.Join(dir, "locks"))
	}
	defer os.RemoveAll(dir)
	defer pgtest.Stop()
	cliBinary = filepath.Join(dir, "upgradeplan")
	args := []string{"build", "-o", cliBinary}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/upgradeplan/upgradeplan/cmd/upgradeplan")
	cmd := exec.Command(goTool(), args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "reliability: go build of the command line failed: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// The five kinds' mutating actions, as the simulator logs them.
var mutatingActions = map[string]bool{
	"UpgradeInstanceVersion": true, "UpgradeDBInstanceKernelVersion": true, "UpdateInstance": true,
	"UpgradeServiceInstance": true, "UpgradeInstance": true,
}

// isUpgrade says whether a logged call changed an instance: a mutating action answered
// with success (a dropped answer after the change was applied included), not a dry run.
func isUpgrade(c sim.CallRecord) bool {
	return mutatingActions[c.Action] && c.OK() && c.Params["DryRun"] != "true"
}

// upgradesByInstance counts the effective upgrade calls per instance.
func upgradesByInstance(calls []sim.CallRecord) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		if isUpgrade(c) {
			out[c.Instance]++
		}
	}
	return out
}

// mutatingCalls counts the mutating calls that reached the simulator in any way (refused,
// faulted or accepted), dry runs excluded.
func mutatingCalls(calls []sim.CallRecord) int {
	n := 0
	for _, c := range calls {
		if mutatingActions[c.Action] && c.Params["DryRun"] != "true" {
			n++
		}
	}
	return n
}

// stepsByInstance counts the plan's steps (one upgrade call each) per instance.
func stepsByInstance(p *planner.Plan) map[string]int {
	out := map[string]int{}
	for _, s := range p.Steps {
		out[s.Instance]++
	}
	return out
}

// checkOneUpgradePerChange fails for every instance whose effective upgrade calls differ from
// its planned steps.
func checkOneUpgradePerChange(t *testing.T, p *planner.Plan, calls []sim.CallRecord) {
	t.Helper()
	want, got := stepsByInstance(p), upgradesByInstance(calls)
	var bad []string
	for id, n := range want {
		if got[id] != n {
			bad = append(bad, fmt.Sprintf("%s: %d upgrade calls, want %d", id, got[id], n))
		}
	}
	for id, n := range got {
		if _, ok := want[id]; !ok {
			bad = append(bad, fmt.Sprintf("%s: %d upgrade calls, but the plan has no step for it", id, n))
		}
	}
	sort.Strings(bad)
	if len(bad) > 10 {
		bad = append(bad[:10], fmt.Sprintf("... and %d more", len(bad)-10))
	}
	if len(bad) > 0 {
		t.Errorf("not exactly one upgrade call per planned change:\n%s", strings.Join(bad, "\n"))
	}
}

// checkNoRefusedUpgrades fails for every mutating call the cloud refused for a reason other
// than an injected fault: a second upgrade of an instance already upgrading or upgraded is
// refused by the product, so it would not show in the count of effective upgrades.
// injected says which answers the test's faults (or kills) explain.
func checkNoRefusedUpgrades(t *testing.T, calls []sim.CallRecord, injected func(sim.CallRecord) bool) {
	t.Helper()
	var bad []string
	for _, c := range calls {
		if mutatingActions[c.Action] && !c.OK() && !injected(c) {
			bad = append(bad, fmt.Sprintf("%s %s answered %s", c.Action, c.Instance, c.Code))
		}
	}
	if len(bad) > 10 {
		bad = append(bad[:10], fmt.Sprintf("... and %d more", len(bad)-10))
	}
	if len(bad) > 0 {
		t.Errorf("upgrade calls the cloud refused (a resend would show this way):\n%s", strings.Join(bad, "\n"))
	}
}

// fleetSize says how many instances of each kind a generated fleet has.
type fleetSize struct {
	kafka, mongo, rabbit, nest, redis int
}

func each(n int) fleetSize { return fleetSize{n, n, n, n, n} }

func (f fleetSize) total() int { return f.kafka + f.mongo + f.rabbit + f.nest + f.redis }

// simHeader is the simulator state before the products: the demo accounts, upgrades of 20
// simulated seconds (a fraction of a second at the tests' time scales), and no server-side
// caps on the actions the tests raise the executor's caps for.
const simHeader = `accounts:
  - {name: demo-ali, cloud: alibaba, keyId: demo-ak, secret: demo-sk}
  - {name: demo-tc, cloud: tencent, keyId: demo-id, secret: demo-key}
qps:
  alikafka/UpgradeInstanceVersion: 0
  redis/UpgradeInstance: 0
  redis/DescribeInstances: 0
durations: {kafka: 20s, mongodb: 20s, rabbitmq: 20s, computenest: 20s, redis: 20s}
`

// simState writes a simulator state with f's instances, every one of them tagged
// env: rel, in the demo's shapes (so every one of them needs the demo's changes).
func simState(f fleetSize) string {
	var b strings.Builder
	b.WriteString(simHeader)
	b.WriteString("kafka:\n")
	for i := range f.kafka {
		fmt.Fprintf(&b, "  - {id: alikafka-rel-%03d, region: cn-hangzhou, account: demo-ali, status: running, version: 0.10.2, tags: {env: rel}}\n", i)
	}
	b.WriteString("mongodb:\n")
	for i := range f.mongo {
		fmt.Fprintf(&b, "  - {id: dds-rel-%03d, region: cn-hangzhou, account: demo-ali, status: Running, type: replicate, engineVersion: \"4.4\", kernelVersion: mongodb_20231123_4.4.25, replicationFactor: 3, tags: {env: rel}}\n", i)
	}
	b.WriteString("rabbitmq:\n")
	for i := range f.rabbit {
		fmt.Fprintf(&b, "  - {id: amqp-rel-%03d, region: cn-hangzhou, account: demo-ali, status: SERVING, tags: {env: rel}, orderType: PRE_PAID, edition: shared, instanceType: enterprise, maxPrivateTps: 3000, maxEipTps: 0, queueCapacity: 1000, maxConnections: 1500, storageSize: 0, supportEip: false, supportTracing: false, tracingStorageTime: 0}\n", i)
	}
	b.WriteString("computenest:\n")
	for i := range f.nest {
		// Plan sends one DryRun per service and versions: si-rel-007 is of a service of its
		// own, so its DryRun is certainly sent (and the fault mix can drop it).
		service := "service-rel"
		if i == 7 {
			service = "service-rel-7"
		}
		fmt.Fprintf(&b, "  - {id: si-rel-%03d, region: cn-hangzhou, account: demo-ali, status: Deployed, tags: {env: rel}, serviceId: %s, version: \"2\", parameters: {EcsInstanceType: ecs.g6.large}, versions: {\"2\": {required: [EcsInstanceType]}, \"3\": {required: [EcsInstanceType, InstancePassword]}}}\n", i, service)
	}
	b.WriteString("redis:\n")
	for i := range f.redis {
		fmt.Fprintf(&b, "  - {id: crs-rel-%03d, region: ap-shanghai, account: demo-tc, status: 2, tags: {env: rel}, memSizeMB: 4096, shards: 3, replicas: 2, redisVersion: \"6.2\"}\n", i)
	}
	return b.String()
}

// allActions are every action the executor rate-limits, for settings.qps.
var allActions = []string{
	"alibaba.kafka/GetInstanceList", "alibaba.kafka/UpgradeInstanceVersion",
	"alibaba.mongodb/DescribeDBInstances", "alibaba.mongodb/DescribeDBInstanceAttribute",
	"alibaba.mongodb/DescribeKernelReleaseNotes", "alibaba.mongodb/UpgradeDBInstanceKernelVersion",
	"alibaba.rabbitmq/ListInstances", "alibaba.rabbitmq/GetInstance", "alibaba.rabbitmq/UpdateInstance",
	"alibaba.computenest/ListServiceInstances", "alibaba.computenest/GetServiceInstance",
	"alibaba.computenest/UpgradeServiceInstance",
	"tencent.redis/DescribeInstances", "tencent.redis/UpgradeInstance", "tencent.redis/DescribeInstanceDealDetail",
}

// fleetManifest writes the fleet for simState's instances: the demo's five targets and
// dependencies (rabbit after kafka, redis after mongo, a kafka canary), polling every
// poll, with every action's cap raised to qps so a large fleet runs in seconds. Compute
// Nest's InstancePassword comes from $REL_SI_PASSWORD. Targets with no instance are left out.
func fleetManifest(f fleetSize, parallelism int, poll string, qps int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: upgradeplan/v1
kind: Fleet
metadata: {name: reliability, owner: sre}
settings:
  parallelism: %d
  pollInterval: %s
  stepTimeout: 2m
  qps:
`, parallelism, poll)
	for _, a := range allActions {
		fmt.Fprintf(&b, "    %s: %d\n", a, qps)
	}
	b.WriteString("targets:\n")
	if f.kafka > 0 {
		b.WriteString(`  - name: kafka-hz
    kind: alibaba.kafka
    region: cn-hangzhou
    select: {tags: {env: rel}}
    desired: {version: "2.2.0"}
    canary: 1
`)
	}
	if f.mongo > 0 {
		b.WriteString(`  - name: mongo-hz
    kind: alibaba.mongodb
    region: cn-hangzhou
    select: {tags: {env: rel}}
    desired: {kernelVersion: latest}
`)
	}
	if f.rabbit > 0 {
		b.WriteString(`  - name: rabbit-hz
    kind: alibaba.rabbitmq
    region: cn-hangzhou
    select: {tags: {env: rel}}
    desired: {maxPrivateTps: 5000, queueCapacity: 2000}
`)
		if f.kafka > 0 {
			b.WriteString("    dependsOn: [kafka-hz]\n")
		}
	}
	if f.nest > 0 {
		b.WriteString(`  - name: marketplace
    kind: alibaba.computenest
    region: cn-hangzhou
    select: {tags: {env: rel}}
    desired:
      serviceVersion: "3"
      parameters: {EcsInstanceType: ecs.g7.large, InstancePassword: {fromEnv: REL_SI_PASSWORD}}
`)
	}
	if f.redis > 0 {
		b.WriteString(`  - name: cache-sh
    kind: tencent.redis
    region: ap-shanghai
    select: {tags: {env: rel}}
    desired: {memSizeMB: 8192, shards: 5}
`)
		if f.mongo > 0 {
			b.WriteString("    dependsOn: [mongo-hz]\n")
		}
	}
	return b.String()
}

// startSim serves a simulator of every product on loopback for the test.
func startSim(t *testing.T, state, faults string, timeScale float64) *simtest.Sim {
	t.Helper()
	return simtest.Start(t, state, sim.Options{TimeScale: timeScale, Faults: []byte(faults)}, cloudsim.Products()...)
}

// cliEnv is the environment the command line runs with: this process's, without any cloud
// credential or endpoint it may hold, then the simulator's endpoints, the demo credentials,
// Compute Nest's password, and extra (KEY=VALUE, later ones win).
func cliEnv(s *simtest.Sim, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ALIBABA_") || strings.HasPrefix(k, "ALICLOUD_") || strings.HasPrefix(k, "TENCENTCLOUD_") ||
			strings.HasPrefix(k, "UPGRADEPLAN_") || strings.HasPrefix(k, "REL_") {
			continue
		}
		env = append(env, kv)
	}
	if d := os.Getenv(executor.LockDirEnv); d != "" {
		env = append(env, executor.LockDirEnv+"="+d) // TestMain's: kept, not the user's
	}
	env = append(env, s.Env()...)
	env = append(env,
		"ALIBABA_CLOUD_ACCESS_KEY_ID=demo-ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=demo-sk",
		"TENCENTCLOUD_SECRET_ID=demo-id", "TENCENTCLOUD_SECRET_KEY=demo-key",
		"REL_SI_PASSWORD=rel-Pa55-word",
		// The simulator runs faster than the clock: a lost answer is reconciled after a
		// second of wall clock (the products' own grace is a minute or two).
		"UPGRADEPLAN_VISIBILITY_GRACE=1s",
		// A race-enabled binary waits a second at exit for late reports; races it finds
		// still fail the command (exit 66, the report on stderr).
		"GORACE=atexit_sleep_ms=20")
	return append(env, extra...)
}

// result is how one run of the command line ended.
type result struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %s\nstdout:\n%s\nstderr:\n%s", r.code, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// cli runs upgradeplan with args in dir and waits for it (at most a minute).
func cli(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBinary, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("upgradeplan %s did not finish within a minute\n%s", strings.Join(args, " "), r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("upgradeplan %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// writeFile writes a file under dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// planFleet runs `upgradeplan plan` on the manifest and returns the plan file's path and the
// plan; planning must succeed.
func planFleet(t *testing.T, dir string, env []string, manifest string) (string, *planner.Plan) {
	t.Helper()
	writeFile(t, dir, "fleet.yaml", manifest)
	r := cli(t, dir, env, "plan", "fleet.yaml", "-o", "plan.json")
	if r.code != 0 {
		t.Fatalf("plan failed: %s", r)
	}
	path := filepath.Join(dir, "plan.json")
	p, err := planner.ReadFile(path)
	if err != nil {
		t.Fatalf("the plan command wrote a plan that does not read back: %v", err)
	}
	return path, p
}

// readRecord reads run.json and fails the test when it does not parse.
func readRecord(t *testing.T, dir string) *executor.Record {
	t.Helper()
	rec, err := executor.ReadRecord(filepath.Join(dir, executor.RecordFile))
	if err != nil {
		t.Fatalf("run.json: %v", err)
	}
	return rec
}

// checkAllSucceeded fails unless every planned step is recorded succeeded.
func checkAllSucceeded(t *testing.T, p *planner.Plan, rec *executor.Record) {
	t.Helper()
	if len(rec.Steps) != len(p.Steps) {
		t.Errorf("run.json has %d steps, the plan %d", len(rec.Steps), len(p.Steps))
	}
	bad := 0
	for _, st := range rec.Steps {
		if st.Status != executor.StatusSucceeded {
			if bad++; bad <= 10 {
				t.Errorf("%s is %s (%s) %+v, want succeeded", st.ID, st.Status, st.Reason, st.Error)
			}
		}
	}
	if bad > 10 {
		t.Errorf("... %d steps in all are not succeeded", bad)
	}
}

// background is a command line started without waiting: its stderr so far, and exited,
// which gets its end.
type background struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	exited chan error
}

// startCLI starts the command line in dir with env and returns at once.
func startCLI(t *testing.T, dir string, env []string, args ...string) *background {
	t.Helper()
	b := &background{cmd: exec.Command(cliBinary, args...), stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	b.cmd.Dir, b.cmd.Env, b.cmd.Stderr = dir, env, b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.exited <- b.cmd.Wait() }()
	return b
}

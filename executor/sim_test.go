package executor_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	amqpsim "github.com/upgradeplan/upgradeplan/cloudsim/amqp"
	cnsim "github.com/upgradeplan/upgradeplan/cloudsim/computenest"
	ddssim "github.com/upgradeplan/upgradeplan/cloudsim/dds"
	kafkasim "github.com/upgradeplan/upgradeplan/cloudsim/kafka"
	redissim "github.com/upgradeplan/upgradeplan/cloudsim/redis"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/computenest"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/kafka"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/mongodb"
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

// simGrace is the visibility grace of the integration tests: a second of wall clock, ten
// simulated minutes at timeScale.
var simGrace = map[string]time.Duration{"": time.Second}

func registry() provider.Registry {
	return provider.Registry{
		kafka.Kind:       kafka.Spec(),
		mongodb.Kind:     mongodb.Spec(),
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
	for _, p := range []string{"kafka", "dds", "amqp", "computenest", "redis"} {
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
		kafkasim.New(), ddssim.New(), amqpsim.New(), cnsim.New(), redissim.New())
	s.SetEnv(t)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "demo-ak")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "demo-sk")
	t.Setenv("TENCENTCLOUD_SECRET_ID", "demo-id")
	t.Setenv("TENCENTCLOUD_SECRET_KEY", "demo-key")
	t.Setenv("DEMO_SI_PASSWORD", "s3cret-Pa55")
	return s
}

// fleetYAML is the demo fleet (all five kinds), polling fast.
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
  - name: mongo-hz
    kind: alibaba.mongodb
    region: cn-hangzhou
    select: {tags: {env: demo}}
    desired: {kernelVersion: latest}
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
    desired: {memSizeMB: 8192, shards: 5}
    dependsOn: [mongo-hz, rabbit-hz]
`

// makePlan plans the fleet against the running simulator and writes the plan file, read back
// as apply reads it.
func makePlan(t *testing.T, settings string) (*planner.Plan, string) {
	t.Helper()
	return planFleet(t, fmt.Sprintf(fleetYAML, settings))
}

func apply(t *testing.T, ctx context.Context, p *planner.Plan, planPath, out string, resume bool) *executor.Record {
	t.Helper()
	rec, err := executor.Apply(ctx, p, executor.Options{Registry: registry(), PlanPath: planPath, Out: out, VisibilityGrace: simGrace, Resume: resume,
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
// checkCaps checks the apply's calls against the caps: those after the first `from` calls
// the simulator logged (the planner's reads before it are another process's, under a
// limiter of their own, as a plan made a moment before an apply would be).
func checkCaps(t *testing.T, s *simtest.Sim, p *planner.Plan, from int) {
	t.Helper()
	l := executor.NewLimiter(registry(), p.Settings, executor.LimiterOptions{})
	kindOf := map[string]string{"alikafka": kafka.Kind, "amqp-open": rabbitmq.Kind, "computenestsupplier": computenest.Kind, "redis": redis.Kind, "dds": mongodb.Kind}
	byKey := map[string][]time.Time{}
	for _, c := range s.Calls()[from:] {
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
	planned := len(s.Calls())
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
	checkCaps(t, s, p, planned)
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

// TestMain lets the crash tests run an apply in a child process (this test binary,
// re-executed) that they can SIGKILL at any instant.
// The plan-digest locks and ledgers of this test binary (and its children) live in a
// directory of their own, so that concurrent test runs of the same plans never see each
// other's locks in the user's cache directory.
func TestMain(m *testing.M) {
	if os.Getenv("EXECUTOR_TEST_CHILD") == "apply" {
		os.Exit(childApply())
	}
	dir, err := os.MkdirTemp("", "executor-test-locks-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv(executor.LockDirEnv, dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func childApply() int {
	path, out := os.Getenv("CHILD_PLAN"), os.Getenv("CHILD_OUT")
	p, err := planner.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return executor.ExitCode(nil, err)
	}
	rec, err := executor.Apply(context.Background(), p, executor.Options{Registry: registry(), PlanPath: path, Out: out, VisibilityGrace: simGrace,
		Resume: os.Getenv("CHILD_RESUME") == "1", RequestTimeout: 5 * time.Second,
		Retry: executor.Retry{Base: 20 * time.Millisecond, Cap: 500 * time.Millisecond}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return executor.ExitCode(rec, err)
}

// child starts an apply process on the plan file.
func child(t *testing.T, path, out string, resume bool) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EXECUTOR_TEST_CHILD=apply", "CHILD_PLAN="+path, "CHILD_OUT="+out)
	if resume {
		cmd.Env = append(cmd.Env, "CHILD_RESUME=1")
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// countEntries counts journal entries of a type.
func countEntries(out, typ string) int {
	es, _ := executor.ReadJournal(out)
	n := 0
	for _, e := range es {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// killAt SIGKILLs cmd as soon as the journal holds n entries of typ; the process ending
// first fails the test.
func killAt(t *testing.T, cmd *exec.Cmd, out, typ string, n int) {
	t.Helper()
	if !killAtOr(t, cmd, out, typ, n, false) {
		t.Fatalf("the apply ended before %d %s entries", n, typ)
	}
}

// killAtOr is killAt that, with mayFinish, accepts an apply that finished the run (exit 0)
// before the journal held n entries; it reports whether it killed.
func killAtOr(t *testing.T, cmd *exec.Cmd, out, typ string, n int, mayFinish bool) bool {
	t.Helper()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for countEntries(out, typ) < n {
		select {
		case <-exited:
			if mayFinish && cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 0 {
				return false
			}
			t.Fatalf("the apply ended (%v) before %d %s entries", cmd.ProcessState, n, typ)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d %s entries after 20 s", n, typ)
		}
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	return true
}

// A crash at several instants (SIGKILL of the apply process) and a resume each time: every
// instance ends upgraded with exactly one mutating call per change, and the record keeps
// every step.
func TestCrashAnywhereAndResumeUpgradesEachInstanceOnce(t *testing.T) {
	// Upgrade calls are slowed down so that kills land between intent and answer.
	faults := `seed: 1
rules:
  - {action: UpgradeInstanceVersion, fault: latency, latency: 150ms}
  - {action: UpgradeInstance, fault: latency, latency: 150ms}
  - {action: UpdateInstance, fault: latency, latency: 150ms}
`
	s := startSim(t, demoState(t, ""), faults)
	p, path := makePlan(t, "parallelism: 20")
	out := filepath.Join(t.TempDir(), "run")

	// 1: killed right after the first intent: the call is in flight.
	killAt(t, child(t, path, out, false), out, executor.EntryIntent, 1)
	// While nothing holds the lock, a second apply may start; while one does, it exits 5.
	holder := child(t, path, out, true)
	for deadline := time.Now().Add(10 * time.Second); countEntries(out, executor.EntryBegin) < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the resumed apply did not start")
		}
	}
	second := child(t, path, filepath.Join(t.TempDir(), "other"), false)
	if code := exitCode(t, second); code != executor.ExitLocked {
		t.Errorf("a second apply of the plan exited %d, want 5", code)
	}
	// 2: the resumed apply killed after a few more results.
	killAt(t, holder, out, executor.EntryResult, 4)
	// 3: killed again after more intents, unless the steps left were all sent already and
	// this segment finishes the run first.
	segments := 4
	if !killAtOr(t, child(t, path, out, true), out, executor.EntryIntent, countEntries(out, executor.EntryIntent)+2, true) {
		segments = 3
	}
	// Finally a resume runs to the end.
	if code := exitCode(t, child(t, path, out, true)); code != executor.ExitOK {
		rec, _ := executor.ReadRecord(out)
		t.Fatalf("final resume exited %d: %+v", code, rec.Outcome)
	}
	want, got := stepsPerInstance(p), upgradesPerInstance(s)
	for id, n := range want {
		if got[id] != n {
			t.Errorf("%s: %d mutating calls after crashes, want exactly %d", id, got[id], n)
		}
	}
	rec, err := executor.ReadRecord(out)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Counts[executor.StatusSucceeded] != len(p.Steps) || len(rec.Segments) != segments || rec.Segments[1].Stop == "" {
		t.Errorf("record: counts %v over segments %+v; want every step succeeded over %d segments (the first run and the resumes), the killed ones marked", rec.Counts, rec.Segments, segments)
	}
	if again, _ := makePlan(t, "parallelism: 20"); len(again.Steps) != 0 {
		t.Errorf("planning again finds %d steps", len(again.Steps))
	}
}

func TestTamperedPlanFileIsRefusedWithExit4(t *testing.T) {
	startSim(t, demoState(t, ""), "")
	_, path := makePlan(t, "")
	data, _ := os.ReadFile(path)
	tampered := strings.Replace(string(data), `"2.2.0"`, `"0.10.2"`, 1)
	if tampered == string(data) {
		t.Fatal("the plan has no 2.2.0 to tamper with")
	}
	os.WriteFile(path, []byte(tampered), 0o644)
	if code := exitCode(t, child(t, path, filepath.Join(t.TempDir(), "run"), false)); code != executor.ExitRefused {
		t.Errorf("tampered plan: exit %d, want 4", code)
	}
}

// With the simulator's cap below the executor's, the run completes, the throttles are
// counted and the bucket slowed down.
func TestThrottlingBelowTheExecutorsCapStillCompletes(t *testing.T) {
	s := startSim(t, demoState(t, "qps: {alikafka/GetInstanceList: 2}\n"), "")
	p, path := makePlan(t, "")
	rec := apply(t, context.Background(), p, path, t.TempDir(), false)
	if rec.Outcome.ExitCode != executor.ExitOK {
		t.Fatalf("outcome %+v counts %v, want success despite throttling", rec.Outcome, rec.Counts)
	}
	var b executor.BucketStats
	for _, x := range rec.Buckets {
		if x.Action == kafka.Kind+"/GetInstanceList" {
			b = x
		}
	}
	if b.Throttles == 0 || b.MinRate >= b.Rate {
		t.Errorf("bucket %+v: want throttles counted and the rate lowered", b)
	}
	throttled := 0
	for _, c := range s.CallsTo("GetInstanceList") {
		if strings.HasPrefix(c.Code, "Throttling") || c.Code == "ONS_SYSTEM_FLOW_CONTROL" { // alikafka's own throttle
			throttled++
		}
	}
	if throttled != b.Throttles {
		t.Errorf("the simulator throttled %d calls, the record counts %d", throttled, b.Throttles)
	}
	for id, n := range stepsPerInstance(p) {
		if got := upgradesPerInstance(s)[id]; got != n {
			t.Errorf("%s: %d mutating calls, want %d", id, got, n)
		}
	}
}

func TestFaultsAgainstTheSimulator(t *testing.T) {
	cases := []struct {
		name   string
		faults string
		want   map[string]executor.Status // by instance; every other step succeeds
		exit   int
		check  func(t *testing.T, s *simtest.Sim)
	}{
		{
			name:   "RabbitMQ answering 503 twice is retried and upgraded once",
			faults: "rules:\n  - {product: amqp-open, action: UpdateInstance, times: 2, fault: unavailable}\n",
			exit:   executor.ExitOK,
			check: func(t *testing.T, s *simtest.Sim) {
				if n := s.Count("UpdateInstance"); n != 4 {
					t.Errorf("%d UpdateInstance calls, want 4 (two 503s, two accepted)", n)
				}
			},
		},
		{
			name:   "a Redis upgrade applied then answered by a dropped connection is not sent again",
			faults: "rules:\n  - {product: redis, action: UpgradeInstance, instance: crs-demo-2, times: 1, fault: drop}\n",
			exit:   executor.ExitOK,
			check: func(t *testing.T, s *simtest.Sim) {
				n := 0
				for _, c := range s.CallsTo("UpgradeInstance") {
					if c.Instance == "crs-demo-2" {
						n++
					}
				}
				if n != 2 {
					t.Errorf("crs-demo-2 received %d UpgradeInstance calls, want 2 (one per change, none resent)", n)
				}
			},
		},
		{
			name:   "a failed Kafka canary fails alone and skips its wave and the targets depending on it",
			faults: "failUpgrades: [alikafka-demo-1]\n",
			want: map[string]executor.Status{"alikafka-demo-1": executor.StatusFailed, "alikafka-demo-2": executor.StatusSkipped,
				"amqp-demo-1": executor.StatusSkipped, "crs-demo-1": executor.StatusSkipped},
			exit: executor.ExitFailed,
			check: func(t *testing.T, s *simtest.Sim) {
				if n := s.Count("UpgradeInstanceVersion"); n != 1 {
					t.Errorf("%d Kafka upgrade calls, want only the canary's", n)
				}
				if n := s.CountOK("UpgradeServiceInstance"); n < 2 {
					t.Errorf("Compute Nest, which depends on nothing, got %d calls", n)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startSim(t, demoState(t, ""), tc.faults)
			p, path := makePlan(t, "")
			planned := len(s.Calls())
			rec := apply(t, context.Background(), p, path, t.TempDir(), false)
			if rec.Outcome.ExitCode != tc.exit {
				t.Errorf("exit %d (%+v), want %d", rec.Outcome.ExitCode, rec.Counts, tc.exit)
			}
			for _, st := range rec.Steps {
				want, ok := tc.want[st.Instance]
				if !ok {
					if tc.exit == executor.ExitOK {
						want = executor.StatusSucceeded
					} else {
						continue
					}
				}
				if st.Status != want {
					t.Errorf("%s is %s (%s %+v), want %s", st.ID, st.Status, st.Reason, st.Error, want)
				}
				if want == executor.StatusSkipped && !strings.Contains(st.Reason, "depends on") {
					t.Errorf("%s skipped without naming what it depends on: %q", st.ID, st.Reason)
				}
			}
			tc.check(t, s)
			checkCaps(t, s, p, planned)
		})
	}
}

// The demo fleet (chained Redis steps among them) through the real SDKs: its dry run
// succeeds with nothing drifted, and re-applying it after it succeeded finds nothing to do.
func TestTheDemoFleetDryRunsCleanAndReappliesAsNoops(t *testing.T) {
	s := startSim(t, demoState(t, ""), "")
	p, path := makePlan(t, "parallelism: 20")
	rec, err := executor.Apply(context.Background(), p, executor.Options{Registry: registry(), PlanPath: path,
		Out: filepath.Join(t.TempDir(), "dry"), DryRun: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome.ExitCode != executor.ExitOK || rec.Counts[executor.StatusDrifted] != 0 {
		t.Fatalf("dry run: exit %d:%s", rec.Outcome.ExitCode, statuses(rec))
	}
	out := filepath.Join(t.TempDir(), "run")
	if rec = apply(t, context.Background(), p, path, out, false); rec.Outcome.ExitCode != executor.ExitOK {
		t.Fatalf("apply: exit %d:%s", rec.Outcome.ExitCode, statuses(rec))
	}
	before := len(upgradesPerInstance(s))
	// A plan is applied once: the same command continues its run, with nothing left to do.
	if rec = apply(t, context.Background(), p, path, out, false); rec.Outcome.ExitCode != executor.ExitOK {
		t.Errorf("the same apply again: exit %d:%s", rec.Outcome.ExitCode, statuses(rec))
	}
	// Another plan file of the same steps (a cron job's copy made later) finds every chain
	// done: all noop.
	again := *p
	again.CreatedAt = p.CreatedAt.Add(time.Second)
	if again.Digest, err = planner.ComputeDigest(&again); err != nil {
		t.Fatal(err)
	}
	rec = apply(t, context.Background(), &again, path, filepath.Join(t.TempDir(), "again"), false)
	if rec.Outcome.ExitCode != executor.ExitOK || rec.Counts[executor.StatusNoop] != len(rec.Steps) {
		t.Errorf("re-apply of a succeeded plan: exit %d:%s", rec.Outcome.ExitCode, statuses(rec))
	}
	if after := len(upgradesPerInstance(s)); after != before {
		t.Errorf("the re-apply made calls: %d instances upgraded before, %d after", before, after)
	}
}

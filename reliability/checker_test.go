package reliability

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
)

// The randomized checker (issue 12's proof): many seeded runs of a mixed fleet of all five
// kinds, with chains, a canary and dependsOn, against a simulator that is eventually
// consistent (a per-product visibility lag and lag faults), drops answers, answers 5xx
// after and before making a change, throttles, has other actors change instances under the
// plan, and a CLI that is killed with SIGKILL at random moments and resumed, applied a
// second time concurrently (a copy of the plan, the same file into another run directory,
// or a re-plan with the same digest), stopped with SIGTERM, cut off by its change window or
// stopped by its failure budget. What happened is checked against the simulator's own
// record of what it applied (GET /_sim/applied), never against the tool's account of it:
// see checkScenario for the invariants.
//
// Every run is seeded. `go test ./reliability -run TestRandomizedChecker` runs
// -checker.runs scenarios from a fresh base seed; a failure names its seed and the command
// that replays exactly that scenario (-checker.seed=N). `make soak` runs scenarios until
// -soak.duration has passed.
var (
	checkerSeed  = flag.Uint64("checker.seed", 0, "run only the randomized checker scenario with this seed (replay)")
	checkerRuns  = flag.Int("checker.runs", 6, "how many randomized checker scenarios to run (without -soak.duration)")
	soakDuration = flag.Duration("soak.duration", 0, "run randomized checker scenarios until this much time has passed (make soak)")
	checkerKeep  = flag.String("checker.keep", "", "copy a failing scenario's directory (plans, run directories, journals) under this directory")
)

// The checker's clocks: the simulator runs 100 times faster than real time, so a 20 s
// upgrade takes 200 ms and a 30 s visibility lag 300 ms.
const (
	checkerScale = 100
	// stopGrace is how long after a stop (signal, window cutoff, failure budget) a
	// mutating call may still arrive: one already on the wire when the stop came.
	stopGrace = 300 * time.Millisecond
	// lookFreshness is apply's --look-freshness here: executor.DefaultLookFreshness (5 s)
	// at the checker's time scale, as the shortest operation is scaled.
	lookFreshness = executor.DefaultLookFreshness / checkerScale
	// lookRace is how long before a call's acceptance (simulated time) another actor's
	// change may have become visible and still be missed by the look the call went out
	// on: the bound, plus the look's answer and the call on the wire (20 ms real). A
	// call sent on an older view is a violation.
	lookRace = (lookFreshness + 20*time.Millisecond) * checkerScale
)

func TestRandomizedChecker(t *testing.T) {
	forSeeds(t, "TestRandomizedChecker", *checkerRuns, func(t *testing.T, seed uint64) {
		runChecked(t, seed, "TestRandomizedChecker", newScenario(seed), nil)
	})
}

// forSeeds runs one subtest per seed: -checker.seed's alone, else runs seeds from a fresh
// base, or as many as -soak.duration allows.
func forSeeds(t *testing.T, test string, runs int, run func(t *testing.T, seed uint64)) {
	if *checkerSeed != 0 {
		run(t, *checkerSeed)
		return
	}
	base := uint64(time.Now().UnixNano())
	deadline := time.Now().Add(*soakDuration)
	for i := 0; ; i++ {
		if *soakDuration > 0 && !time.Now().Before(deadline) || *soakDuration == 0 && i >= runs {
			break
		}
		seed := base + uint64(i)*0x9e3779b97f4a7c15
		if seed == 0 {
			seed = 1
		}
		if !t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { run(t, seed) }) && *soakDuration > 0 {
			t.Logf("%s: seed %d failed; the soak goes on", test, seed)
		}
	}
}

// runChecked runs and checks one seeded scenario (with pg, against the PostgreSQL state); a
// failure names the seed and the command that replays it.
func runChecked(t *testing.T, seed uint64, test string, sc *scenario, pg *pgRun) {
	t.Logf("scenario: %s", sc)
	replay := fmt.Sprintf("go test -race ./reliability -run '^%s$' -checker.seed=%d -v", test, seed)
	defer func() {
		if t.Failed() {
			t.Logf("seed %d failed; replay it with:\n    %s", seed, replay)
		}
	}()
	h := runHistory(t, sc, pg)
	t.Logf("ran: %v; second apply: %v; actors: %v", h.segments, h.second, h.actors)
	if h.secondRecord != nil && pg != nil {
		for _, st := range h.secondRecord.Steps {
			if st.Status != "succeeded" && st.Status != "noop" {
				t.Logf("second plan: %s %s (%s) %+v", st.ID, st.Status, st.Reason, st.Error)
			}
		}
	}
	for _, v := range checkScenario(sc, h) {
		t.Errorf("seed %d: %s", seed, v)
	}
	if t.Failed() && *checkerKeep != "" {
		keep := filepath.Join(*checkerKeep, fmt.Sprintf("seed-%d", seed))
		if err := os.CopyFS(keep, os.DirFS(h.dir)); err != nil {
			t.Logf("keeping the scenario's directory: %v", err)
		} else {
			t.Logf("the scenario's directory is kept in %s", keep)
		}
	}
}

// secondApply is how a second, concurrent apply of the same plan is started.
type secondApply int

const (
	secondNone     secondApply = iota
	secondCopy                 // a copy of the plan file in another directory, its own run directory
	secondSameFile             // the same plan file into another run directory
	secondReplan               // a re-plan of the same manifest that came out with the same digest
)

func (m secondApply) String() string {
	return [...]string{"none", "copy of the plan", "same plan file, other run dir", "same-digest re-plan"}[m]
}

// actorChange is another actor's change of one instance during the apply.
type actorChange struct {
	after    time.Duration // real time after the first apply started
	instance string
	set      map[string]any
}

// scenario is everything one seed decides.
type scenario struct {
	seed                                  uint64
	kafka, minor, mongo, rabbit, nest, rd int // instances per kind (minor: kafka at 2.2.0, latestMinor)
	rabbitChain                           bool
	lag                                   map[string]time.Duration // visibility lag per state key (simulated)
	// listLag is how far lists may trail describes per state key (simulated; cloudsim's
	// listLag). With lag it stays under the runs' 1 s visibility grace, as the clouds' lags
	// stay under the products' graces.
	listLag     map[string]time.Duration
	rules       []string // fault rules, YAML flow mappings
	failing     []string // instances whose upgrade ends failed
	maxFailures int      // -1: no budget
	actors      []actorChange
	kills       []time.Duration // real time after each segment's start
	second      secondApply
	secondAfter time.Duration
	// secondBetween starts the second apply between two segments of the main run (after
	// a kill, none alive): it must be refused with exit 4, the plan applied elsewhere.
	secondBetween bool
	stopAfter     time.Duration // SIGTERM this long into the segment after the kills; 0: none
	cutoffAfter   time.Duration // window end - cutoff this long after plan; 0: no window
	kafkaQPS      float64
	// mongoWindow MongoDB instances are upgraded in their maintenance window
	// (SwitchMode=1), which opens windowIn (simulated) after the state is written: an
	// accepted call shows nothing until then.
	mongoWindow int
	windowIn    time.Duration
	// accounts gives every target an account of its own (checker_shard_test.go: the
	// shards are dealt by account); false: every target in the default account.
	accounts bool
}

func newScenario(seed uint64) *scenario {
	rng := rand.New(rand.NewPCG(seed, seed^0xc0ffee))
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+rng.IntN(hi-lo+1)) * time.Millisecond }
	sc := &scenario{
		seed: seed, kafka: 2 + rng.IntN(3), minor: rng.IntN(2), mongo: 2 + rng.IntN(2), rabbit: 1 + rng.IntN(2),
		nest: 1 + rng.IntN(2), rd: 1 + rng.IntN(3), rabbitChain: rng.IntN(2) == 0,
		lag: map[string]time.Duration{}, maxFailures: -1, kafkaQPS: []float64{1, 2, 5}[rng.IntN(3)],
	}
	for _, key := range []string{"kafka", "mongodb", "rabbitmq", "computenest", "redis"} {
		if rng.IntN(4) > 0 {
			sc.lag[key] = time.Duration(5+rng.IntN(36)) * time.Second // 50-400 ms real
		}
	}
	// The list lags come from a generator of their own, so every other draw of a seed is
	// what it was before they were added, and old seeds replay their scenarios.
	lists := rand.New(rand.NewPCG(seed, seed^0x115a9))
	sc.listLag = map[string]time.Duration{}
	for _, key := range []string{"kafka", "mongodb", "rabbitmq", "computenest", "redis"} {
		if lists.IntN(2) > 0 {
			sc.listLag[key] = time.Duration(5+lists.IntN(26)) * time.Second // 50-300 ms real
		}
	}
	rate := func(max float64) string { return fmt.Sprintf("%.3f", rng.Float64()*max) }
	if rng.IntN(3) > 0 {
		sc.rules = append(sc.rules, "{product: alikafka, action: UpgradeInstanceVersion, fault: lag, lag: 20s, rate: "+rate(0.5)+"}")
	}
	for _, action := range []string{"UpgradeInstanceVersion", "UpgradeDBInstanceKernelVersion", "UpdateInstance", "UpgradeServiceInstance", "UpgradeInstance"} {
		if rng.IntN(2) == 0 {
			sc.rules = append(sc.rules, "{action: "+action+", fault: drop, rate: "+rate(0.3)+"}")
		}
		if rng.IntN(3) == 0 {
			sc.rules = append(sc.rules, "{action: "+action+", fault: internal-error, apply: true, rate: "+rate(0.2)+"}")
		}
	}
	sc.rules = append(sc.rules,
		"{fault: unavailable, rate: "+rate(0.08)+"}",
		"{fault: throttle, rate: "+rate(0.05)+"}")
	if rng.IntN(3) == 0 {
		n := 1 + rng.IntN(sc.mongo)
		for i := range n {
			sc.failing = append(sc.failing, fmt.Sprintf("dds-chk-%03d", i))
		}
		if rng.IntN(2) == 0 {
			sc.maxFailures = rng.IntN(n)
		}
	}
	for range rng.IntN(3) {
		sc.actors = append(sc.actors, sc.randomActor(rng, ms(0, 2500)))
	}
	for range rng.IntN(4) {
		sc.kills = append(sc.kills, ms(50, 1500))
	}
	sc.second = secondApply(rng.IntN(4))
	sc.secondAfter = ms(0, 400)
	if rng.IntN(3) == 0 {
		sc.stopAfter = ms(100, 1500)
	}
	if rng.IntN(4) == 0 {
		sc.cutoffAfter = ms(1500, 4000)
	}
	sc.secondBetween = len(sc.kills) > 0 && rng.IntN(3) == 0
	// Drawn after the rest: older seeds keep their scenarios.
	sc.mongoWindow, sc.windowIn = rng.IntN(3), time.Duration(2+rng.IntN(10))*time.Minute
	if rng.IntN(2) == 0 {
		// A lost answer of a call that shows nothing until the window: never resent.
		for i := range sc.mongoWindow {
			sc.rules = append(sc.rules, fmt.Sprintf("{action: UpgradeDBInstanceKernelVersion, instance: dds-win-%03d, fault: drop, rate: %s}", i, rate(1)))
		}
	}
	return sc
}

// randomActor picks an instance and a change another actor might make: to the plan's
// target (the step then has nothing to do) or elsewhere (the step's from no longer holds).
func (sc *scenario) randomActor(rng *rand.Rand, after time.Duration) actorChange {
	pick := func(prefix string, n int) string { return fmt.Sprintf("%s-chk-%03d", prefix, rng.IntN(n)) }
	var a actorChange
	switch rng.IntN(5) {
	case 0:
		a = actorChange{instance: pick("alikafka", sc.kafka), set: map[string]any{"version": "2.2.0"}}
	case 1:
		a = actorChange{instance: pick("dds", sc.mongo), set: map[string]any{"kernelVersion": newestKernel44}}
	case 2:
		a = actorChange{instance: pick("amqp", sc.rabbit), set: map[string]any{"maxPrivateTps": []int{4000, 5000}[rng.IntN(2)]}}
	case 3:
		a = actorChange{instance: pick("si", sc.nest), set: map[string]any{"serviceVersion": "3"}}
	default:
		set := map[string]any{"memSizeMB": 8192}
		if rng.IntN(2) == 0 {
			set = map[string]any{"shards": 5}
		}
		a = actorChange{instance: pick("crs", sc.rd), set: set}
	}
	a.after = after
	return a
}

func (sc *scenario) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kafka %d (+%d latestMinor), mongodb %d (+%d in the maintenance window, opening in %s), rabbitmq %d (chained %v), computenest %d, redis %d (chained); ",
		sc.kafka, sc.minor, sc.mongo, sc.mongoWindow, sc.windowIn, sc.rabbit, sc.rabbitChain, sc.nest, sc.rd)
	when := "after " + sc.secondAfter.String()
	if sc.secondBetween {
		when = "between segments"
	}
	fmt.Fprintf(&b, "lag %v; list lag %v; %d fault rules; failing %v, maxFailures %d; %d actors; kills at %v; second apply: %s %s; stop after %s; cutoff after %s; kafka qps %v",
		sc.lag, sc.listLag, len(sc.rules), sc.failing, sc.maxFailures, len(sc.actors), sc.kills, sc.second, when, sc.stopAfter, sc.cutoffAfter, sc.kafkaQPS)
	return b.String()
}

// newestKernel44 is the simulator's newest MongoDB 4.4 kernel, what `kernelVersion: latest` plans.
const newestKernel44 = "mongodb_20240611_4.4.29"

// checkerHeader is the simulator state before the products: the demo accounts and a
// second pair the concurrent second apply uses (the instances belong to no account, so
// both see them, and the applied record tells the two runs apart by account), 20 s
// upgrades, and no server-side caps on the actions the manifest raises the caps for.
const checkerHeader = `accounts:
  - {name: demo-ali, cloud: alibaba, keyId: demo-ak, secret: demo-sk}
  - {name: demo-tc, cloud: tencent, keyId: demo-id, secret: demo-key}
  - {name: second-ali, cloud: alibaba, keyId: second-ak, secret: second-sk}
  - {name: second-tc, cloud: tencent, keyId: second-id, secret: second-key}
qps:
  alikafka/UpgradeInstanceVersion: 0
  redis/UpgradeInstance: 0
  redis/DescribeInstances: 0
durations: {kafka: 20s, mongodb: 20s, rabbitmq: 20s, computenest: 20s, redis: 20s}
`

// secondCredentials are the environment of the second apply.
var secondCredentials = []string{
	"ALIBABA_CLOUD_ACCESS_KEY_ID=second-ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=second-sk",
	"TENCENTCLOUD_SECRET_ID=second-id", "TENCENTCLOUD_SECRET_KEY=second-key",
}

// isSecond says whether an account is the second apply's.
func isSecond(account string) bool { return strings.HasPrefix(account, "second-") }

// state writes the simulator state: the accounts, 20 s upgrades, the lags, and the
// instances (every one in its target's shape, tagged with its target).
func (sc *scenario) state() string {
	var b strings.Builder
	header := checkerHeader
	if sc.accounts {
		header = strings.Replace(header, "qps:\n", shardSimAccounts+"qps:\n", 1)
	}
	b.WriteString(header)
	if len(sc.lag) > 0 {
		b.WriteString("visibilityLag:\n")
		for k, d := range sc.lag {
			fmt.Fprintf(&b, "  %s: %s\n", k, d)
		}
	}
	if len(sc.listLag) > 0 {
		b.WriteString("listLag:\n")
		for k, d := range sc.listLag {
			fmt.Fprintf(&b, "  %s: %s\n", k, d)
		}
	}
	b.WriteString("kafka:\n")
	for i := range sc.kafka {
		fmt.Fprintf(&b, "  - {id: alikafka-chk-%03d, region: cn-hangzhou, version: 0.10.2, tags: {t: kafka}}\n", i)
	}
	for i := range sc.minor {
		fmt.Fprintf(&b, "  - {id: alikafka-min-%03d, region: cn-hangzhou, version: 2.2.0, minorLatest: false, tags: {t: minor}}\n", i)
	}
	b.WriteString("mongodb:\n")
	for i := range sc.mongo {
		fmt.Fprintf(&b, "  - {id: dds-chk-%03d, region: cn-hangzhou, status: Running, type: replicate, engineVersion: \"4.4\", kernelVersion: mongodb_20231123_4.4.25, replicationFactor: 3, tags: {t: mongo}}\n", i)
	}
	if sc.mongoWindow > 0 {
		// The simulator's clock starts at the wall clock's now; windows are whole minutes.
		start := time.Now().UTC().Add(sc.windowIn).Truncate(time.Minute)
		window := start.Format("15:04Z") + "-" + start.Add(time.Hour).Format("15:04Z")
		for i := range sc.mongoWindow {
			fmt.Fprintf(&b, "  - {id: dds-win-%03d, region: cn-hangzhou, status: Running, type: replicate, engineVersion: \"4.4\", kernelVersion: mongodb_20231123_4.4.25, replicationFactor: 3, tags: {t: mongo-win}, maintenanceWindow: %q}\n", i, window)
		}
	}
	b.WriteString("rabbitmq:\n")
	for i := range sc.rabbit {
		fmt.Fprintf(&b, "  - {id: amqp-chk-%03d, region: cn-hangzhou, tags: {t: rabbit}, instanceType: enterprise, maxPrivateTps: 3000, queueCapacity: 1000, maxConnections: 1500}\n", i)
	}
	b.WriteString("computenest:\n")
	for i := range sc.nest {
		fmt.Fprintf(&b, "  - {id: si-chk-%03d, region: cn-hangzhou, tags: {t: nest}, serviceId: service-chk, version: \"2\", parameters: {EcsInstanceType: ecs.g6.large}, versions: {\"2\": {required: [EcsInstanceType]}, \"3\": {required: [EcsInstanceType, InstancePassword]}}}\n", i)
	}
	b.WriteString("redis:\n")
	for i := range sc.rd {
		fmt.Fprintf(&b, "  - {id: crs-chk-%03d, region: ap-shanghai, status: 2, tags: {t: redis}, memSizeMB: 4096, shards: 3, replicas: 2, redisVersion: \"6.2\"}\n", i)
	}
	return b.String()
}

// faults writes the faults file.
func (sc *scenario) faults() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed: %d\nrules:\n", sc.seed)
	for _, r := range sc.rules {
		fmt.Fprintf(&b, "  - %s\n", r)
	}
	if len(sc.failing) > 0 {
		fmt.Fprintf(&b, "failUpgrades: [%s]\n", strings.Join(sc.failing, ", "))
	}
	return b.String()
}

// manifest writes the fleet: six targets, a Kafka canary, RabbitMQ after Kafka, Redis
// after MongoDB, Redis memory then shards (a chain), RabbitMQ up then down when chained.
func (sc *scenario) manifest(cutoffAt time.Time) string {
	var b strings.Builder
	b.WriteString("apiVersion: upgradeplan/v1\nkind: Fleet\nmetadata: {name: checker, owner: sre}\nsettings:\n")
	b.WriteString("  parallelism: 8\n  pollInterval: 50ms\n  stepTimeout: 10s\n")
	if sc.maxFailures >= 0 {
		fmt.Fprintf(&b, "  maxFailures: %d\n", sc.maxFailures)
	}
	if !cutoffAt.IsZero() {
		fmt.Fprintf(&b, "  window: {start: %q, end: %q, cutoff: 1m}\n",
			cutoffAt.Add(-time.Hour).Format(time.RFC3339Nano), cutoffAt.Add(time.Minute).Format(time.RFC3339Nano))
	}
	b.WriteString("  qps:\n")
	for _, a := range allActions {
		q := 400.0
		if a == "alibaba.kafka/UpgradeInstanceVersion" {
			q = sc.kafkaQPS
		}
		fmt.Fprintf(&b, "    %s: %v\n", a, q)
	}
	b.WriteString(`targets:
  - name: kafka-hz
    kind: alibaba.kafka
    region: cn-hangzhou
    select: {tags: {t: kafka}}
    desired: {version: "2.2.0"}
    canary: 1
`)
	if sc.minor > 0 {
		b.WriteString(`  - name: kafka-minor
    kind: alibaba.kafka
    region: cn-hangzhou
    select: {tags: {t: minor}}
    desired: {version: "2.2.0", latestMinor: true}
`)
	}
	rabbit := "{maxPrivateTps: 5000, queueCapacity: 2000}"
	if sc.rabbitChain {
		rabbit = "{maxPrivateTps: 5000, queueCapacity: 500}"
	}
	fmt.Fprintf(&b, `  - name: mongo-hz
    kind: alibaba.mongodb
    region: cn-hangzhou
    select: {tags: {t: mongo}}
    desired: {kernelVersion: latest}
  - name: rabbit-hz
    kind: alibaba.rabbitmq
    region: cn-hangzhou
    select: {tags: {t: rabbit}}
    desired: %s
    dependsOn: [kafka-hz]
  - name: marketplace
    kind: alibaba.computenest
    region: cn-hangzhou
    select: {tags: {t: nest}}
    desired:
      serviceVersion: "3"
      parameters: {EcsInstanceType: ecs.g7.large, InstancePassword: {fromEnv: REL_SI_PASSWORD}}
  - name: cache-sh
    kind: tencent.redis
    region: ap-shanghai
    select: {tags: {t: redis}}
    desired: {memSizeMB: 8192, shards: 8}
    dependsOn: [mongo-hz]
`, rabbit)
	if sc.mongoWindow > 0 {
		b.WriteString(`  - name: mongo-window
    kind: alibaba.mongodb
    region: cn-hangzhou
    select: {tags: {t: mongo-win}}
    desired: {kernelVersion: latest, maintenanceWindow: true}
`)
	}
	if sc.accounts {
		return withTargetAccounts(b.String())
	}
	return b.String()
}

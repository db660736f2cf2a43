package reliability

// The randomized checker's shards (issue 16): a scenario's fleet, one account per target,
// applied by four runners at once (`apply plan.json --state URL --shard I/4`, I = 0…3, each
// from a working directory of its own) against one simulator, and the same plan applied by
// one runner into a run directory against another simulator with the same state. The
// merged `report --state URL --run ID` must equal what the one runner wrote, modulo the
// normalisation below, and the changes the simulator applied for the shards must be
// exactly the plan's (the checker's invariants, and the same changes the one runner made).
//
// The normalisation (normalRecord): what differs between two applies of one plan however
// they ran is left out of run.json before the comparison: the run's and every step's start
// and finish times and durations, the segments (one per process: four shards, one runner),
// the tool version and the plan file's path, the request ids and order ids the cloud
// answered (the simulator numbers them as calls arrive), and the read buckets (how often
// a runner polled depends on its timing; the mutating buckets' calls are kept), and the
// reason of an in-place restart no poll saw busy ("never seen leaving running after the
// call; …", whether a poll caught its short busy spell is timing too). report.md
// and junit.xml are rendered from run.json alone, so they are compared as the report
// package renders the two normalised records, and each file the shards' `report --state
// --run` prints must be exactly what the report package renders from the merged run.json
// it prints (and the one runner's files what it renders from its run.json).
//
// The scenario keeps its fleet, chains, visibility lags and failing upgrades; faults,
// actors, kills, stops, windows and the failure budget are left out: their outcome hangs
// on timing, which two applies never share.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/internal/pgtest"
	reports "github.com/upgradeplan/upgradeplan/report"
)

var checkerShardRuns = flag.Int("checker.shardruns", 1, "how many randomized shard scenarios to run (TestRandomizedCheckerShards, without -soak.duration)")

// targetAccounts deals the checker's targets to accounts: sorted a1…a4, t1 are dealt to
// four shards as a1, t1 → 0, a2 → 1, a3 → 2, a4 → 3, so rabbit-hz (a3) waits for kafka-hz
// (a1) and cache-sh (t1) for mongo-hz (a2) across shards.
var targetAccounts = map[string]string{
	"kafka-hz": "a1", "kafka-minor": "a1", "mongo-hz": "a2", "rabbit-hz": "a3", "marketplace": "a4", "cache-sh": "t1", "mongo-window": "a2",
}

// shardSimAccounts are the accounts' keys in the simulator (the instances belong to no
// account: every account sees them).
const shardSimAccounts = `  - {name: a1, cloud: alibaba, keyId: ak1, secret: sk1}
  - {name: a2, cloud: alibaba, keyId: ak2, secret: sk2}
  - {name: a3, cloud: alibaba, keyId: ak3, secret: sk3}
  - {name: a4, cloud: alibaba, keyId: ak4, secret: sk4}
  - {name: t1, cloud: tencent, keyId: id1, secret: key1}
`

// shardCredentials are the environment the accounts' {fromEnv} credentials read.
var shardCredentials = []string{"A1_AK=ak1", "A1_SK=sk1", "A2_AK=ak2", "A2_SK=sk2", "A3_AK=ak3", "A3_SK=sk3",
	"A4_AK=ak4", "A4_SK=sk4", "T1_ID=id1", "T1_KEY=key1"}

// withTargetAccounts adds the accounts section to a checker manifest and an account to
// every target.
func withTargetAccounts(manifest string) string {
	accounts := "accounts:\n"
	for _, a := range []string{"a1", "a2", "a3", "a4"} {
		up := strings.ToUpper(a)
		accounts += fmt.Sprintf("  %s: {cloud: alibaba, accessKeyId: {fromEnv: %s_AK}, accessKeySecret: {fromEnv: %s_SK}}\n", a, up, up)
	}
	accounts += "  t1: {cloud: tencent, secretId: {fromEnv: T1_ID}, secretKey: {fromEnv: T1_KEY}}\n"
	manifest = strings.Replace(manifest, "settings:\n", accounts+"settings:\n", 1)
	for target, acct := range targetAccounts {
		manifest = strings.Replace(manifest, "  - name: "+target+"\n", "  - name: "+target+"\n    account: "+acct+"\n", 1)
	}
	return manifest
}

// forShards keeps what two applies of one plan share.
func (sc *scenario) forShards() {
	sc.accounts = true
	sc.rules, sc.actors, sc.kills, sc.second, sc.secondBetween = nil, nil, nil, secondNone, false
	sc.stopAfter, sc.cutoffAfter, sc.maxFailures = 0, 0, -1
}

func TestRandomizedCheckerShards(t *testing.T) {
	forSeeds(t, "TestRandomizedCheckerShards", *checkerShardRuns, func(t *testing.T, seed uint64) {
		sc := newScenario(seed)
		sc.forShards()
		t.Logf("scenario: %s", sc)
		defer func() {
			if t.Failed() {
				t.Logf("seed %d failed; replay it with:\n    go test -race ./reliability -run '^TestRandomizedCheckerShards$' -checker.seed=%d -v", seed, seed)
			}
		}()
		runShards(t, sc)
	})
}

// runShards applies the scenario's plan with one runner and with four shards and checks both.
func runShards(t *testing.T, sc *scenario) {
	srv := pgtest.Start(t)
	db := srv.NewDatabase(t)
	url := srv.URL(db)

	one := startSim(t, sc.state(), sc.faults(), checkerScale)
	h := &history{dir: t.TempDir()}
	envOne := cliEnv(one, append(shardCredentials, "UPGRADEPLAN_SHORTEST_OPERATION=150ms", srv.Env()[0])...)
	planPath := h.planWithRetries(t, envOne, "fleet.yaml", "plan.json", sc.manifest(time.Time{}))
	h.planCalls = len(one.Calls())

	oneDir := runnerDir(t, planPath)
	r := cli(t, oneDir, envOne, "apply", "plan.json", "--out", "run")
	t.Logf("one runner: exit %d after %s", r.code, r.elapsed.Round(time.Millisecond))
	h.out = filepath.Join(oneDir, "run")
	h.segments = []segment{{name: "one runner", code: r.code, stderr: r.stderr}}
	h.applied, h.calls, h.state, h.record = one.Applied(), one.Calls(), observedState(t, one), readRunRecord(h.out)
	for _, v := range checkScenario(sc, h) {
		t.Errorf("one runner: %s", v)
	}

	four := startSim(t, sc.state(), sc.faults(), checkerScale)
	envFour := cliEnv(four, append(shardCredentials, "UPGRADEPLAN_SHORTEST_OPERATION=150ms", srv.Env()[0])...)
	hs := &history{dir: h.dir, plan: h.plan}
	for i, r := range applyShards(t, planPath, envFour, url, 4) {
		t.Logf("shard %d/4: exit %d after %s", i, r.code, r.elapsed.Round(time.Millisecond))
		hs.segments = append(hs.segments, segment{name: fmt.Sprintf("shard %d/4", i), code: r.code, stderr: r.stderr})
		if r.code == 4 || r.code == 5 || r.code == 1 {
			t.Errorf("shard %d/4 was refused: %s", i, r)
		}
	}
	renders := map[string]string{}
	for _, format := range []string{"json", "markdown", "junit"} {
		r := cli(t, t.TempDir(), envFour, "report", "--state", url, "--run", h.plan.Digest[:16], "--format", format)
		if r.code != 0 {
			t.Fatalf("report --state --run --format %s: %s", format, r)
		}
		renders[format] = r.stdout
	}
	hs.out = filepath.Join(hs.dir, "merged")
	if err := os.MkdirAll(hs.out, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, hs.out, executor.RecordFile, renders["json"])
	hs.applied, hs.calls, hs.state, hs.record = four.Applied(), four.Calls(), observedState(t, four), readRunRecord(hs.out)
	// The merged record is checked as one run's: its last segment's exit is the merged outcome's.
	hs.segments = append(hs.segments, segment{name: "merged", code: -2})
	if hs.record != nil {
		hs.segments[len(hs.segments)-1].code = hs.record.Outcome.ExitCode
	}
	for _, v := range checkScenario(sc, hs) {
		t.Errorf("four shards: %s", v)
	}
	compareShards(t, h, hs, renders)
}

// compareShards compares the shards' merged files with the one runner's (normalRecord).
func compareShards(t *testing.T, one, four *history, renders map[string]string) {
	t.Helper()
	single, err := executor.ReadRecord(filepath.Join(one.out, executor.RecordFile))
	if err != nil {
		t.Fatalf("the one runner's run.json: %v", err)
	}
	var merged executor.Record
	if err := json.Unmarshal([]byte(renders["json"]), &merged); err != nil {
		t.Fatalf("the merged run.json: %v", err)
	}
	a, b := normalRecord(single), normalRecord(&merged)
	ja, _ := json.MarshalIndent(a, "", " ")
	jb, _ := json.MarshalIndent(b, "", " ")
	if !bytes.Equal(ja, jb) {
		t.Errorf("run.json: the four shards' merged record differs from the one runner's (normalised):\n%s", lineDiff(string(ja), string(jb)))
	}
	for _, f := range []struct {
		format, file string
		render       func(*bytes.Buffer, *executor.Record) error
	}{
		{"markdown", "report.md", func(w *bytes.Buffer, r *executor.Record) error { return reports.Markdown(w, r) }},
		{"junit", "junit.xml", func(w *bytes.Buffer, r *executor.Record) error { return reports.JUnit(w, r) }},
	} {
		var x, y, z, o bytes.Buffer
		if f.render(&x, a) != nil || f.render(&y, b) != nil || f.render(&z, &merged) != nil || f.render(&o, single) != nil {
			t.Fatalf("%s does not render", f.file)
		}
		if x.String() != y.String() {
			t.Errorf("%s: the four shards' (normalised) differs from the one runner's:\n%s", f.file, lineDiff(x.String(), y.String()))
		}
		if z.String() != renders[f.format] {
			t.Errorf("%s: `report --state --run --format %s` is not what its merged run.json renders:\n%s", f.file, f.format, lineDiff(z.String(), renders[f.format]))
		}
		disk, err := os.ReadFile(filepath.Join(one.out, f.file))
		if err != nil || string(disk) != o.String() {
			t.Errorf("%s: the one runner's file is not what its run.json renders (%v)", f.file, err)
		}
	}
	// The same changes: per instance, the shards' applied changes are the one runner's.
	count := func(h *history) map[string]int {
		out := map[string]int{}
		for _, a := range h.applied {
			out[a.Instance+" "+fmt.Sprint(a.To)]++
		}
		return out
	}
	ca, cb := count(one), count(four)
	for k, n := range ca {
		if cb[k] != n {
			t.Errorf("applied changes: %s %d times by the one runner, %d by the four shards", k, n, cb[k])
		}
	}
	for k, n := range cb {
		if _, ok := ca[k]; !ok {
			t.Errorf("applied changes: %s %d times by the four shards, never by the one runner", k, n)
		}
	}
}

// normalRecord is a record without what differs between two applies of one plan (see the
// file's comment): comparable's normalisation, which the PostgreSQL shard test uses too.
func normalRecord(rec *executor.Record) *executor.Record { return comparable(rec) }

package reliability

// The PostgreSQL run state (executor/pgstate) end to end: the command line against the
// simulator and a throwaway PostgreSQL (internal/pgtest).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/internal/pgtest"
	"github.com/upgradeplan/upgradeplan/planner"
)

// pgState starts (or reuses) the test server and returns a fresh database's state URL
// (no password), the environment entry that carries the password, and a direct connection.
func pgState(t *testing.T) (url string, pass string, conn *pgx.Conn) {
	t.Helper()
	srv := pgtest.Start(t)
	db := srv.NewDatabase(t)
	conn, err := pgx.Connect(t.Context(), srv.URLWithPassword(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return srv.URL(db), "PGPASSWORD=" + srv.Password, conn
}

// runnerDir is a fresh working directory holding nothing but a copy of the plan file: a
// runner on another machine.
func runnerDir(t *testing.T, planPath string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(planPath)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "plan.json", string(b))
	return dir
}

func count(t *testing.T, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		return -1
	}
	return n
}

// A runner killed (SIGKILL) at seeded moments is continued each time by another runner
// process in another working directory with no local files, by the same `apply PLAN
// --state URL`; the last one finishes. Every instance is upgraded exactly once, and the
// run's record in the database accounts for every runner.
func TestPostgresStateARunKilledIsContinuedByAnotherRunnerElsewhere(t *testing.T) {
	url, pass, conn := pgState(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill delays seeded with %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e))
	f := each(20)
	s := startSim(t, simState(f), slowUpgrades, 200)
	env := cliEnv(s, pass)
	planPath, p := planFleet(t, t.TempDir(), env, fleetManifest(f, 16, "50ms", 400))

	const kills = 5
	for i := range kills {
		dir := runnerDir(t, planPath)
		run := startCLI(t, dir, env, "apply", "plan.json", "--state", url, "--out", "reports")
		cmd, stderr, exited := run.cmd, run.stderr, run.exited
		// Kill once this runner wrote some intents of its own (1 to 10) after its begin.
		// (-1 before the first runner created the tables: none yet.)
		before := max(0, count(t, conn, "SELECT count(*) FROM upgradeplan.journal WHERE type = 'intent'"))
		want := before + 1 + rng.IntN(10)
		deadline := time.Now().Add(30 * time.Second)
		for count(t, conn, "SELECT count(*) FROM upgradeplan.journal WHERE type = 'intent'") < want {
			select {
			case err := <-exited:
				t.Fatalf("runner %d ended before its kill (%v)\n%s", i+1, err, lastLines(stderr.String(), 5))
			case <-time.After(2 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("runner %d: kill point not reached\n%s", i+1, lastLines(stderr.String(), 5))
			}
		}
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		cmd.Process.Kill()
		<-exited
		t.Logf("runner %d killed with %d intents in the journal", i+1, count(t, conn, "SELECT count(*) FROM upgradeplan.journal WHERE type = 'intent'"))
	}
	dir := runnerDir(t, planPath)
	final := cli(t, dir, env, "apply", "plan.json", "--state", url, "--out", "reports")
	if final.code != 0 {
		t.Fatalf("the runner that continued the run: %s", final)
	}
	rec := readRecord(t, filepath.Join(dir, "reports"))
	checkAllSucceeded(t, p, rec)
	checkOneUpgradePerChange(t, p, s.Calls())
	checkNoRefusedUpgrades(t, s.Calls(), func(c sim.CallRecord) bool {
		return c.Fault == string(sim.FaultLatency) && c.Code == "InternalError"
	})
	if len(rec.Segments) != kills+1 {
		t.Errorf("run.json lists %d segments, want %d (every runner)", len(rec.Segments), kills+1)
	}
	for k, seg := range rec.Segments[:len(rec.Segments)-1] {
		if !strings.HasPrefix(seg.Stop, "killed") {
			t.Errorf("segment %d stop %q, want killed", k+1, seg.Stop)
		}
	}
	// A second apply while one holds the plan exits 5 naming the holder; with the password
	// in the URL the command refuses before connecting, without repeating it.
	pw := strings.TrimPrefix(pass, "PGPASSWORD=")
	bad := strings.Replace(url, "postgres://upgradeplan@", "postgres://upgradeplan:"+pw+"@", 1)
	r := cli(t, dir, cliEnv(s), "apply", "plan.json", "--state", bad, "--out", "x")
	if r.code != 1 || strings.Contains(r.stdout+r.stderr, pw) || !strings.Contains(r.stderr, "PGPASSWORD") {
		t.Errorf("a password in the URL: want exit 1 naming PGPASSWORD, never the password: %s", r)
	}
}

// Two runners apply the same plan at once from two machines: one runs it, the other exits 5
// naming the first's host and pid.
func TestPostgresStateASecondApplyAnywhereExitsFiveNamingTheHolder(t *testing.T) {
	url, pass, _ := pgState(t)
	f := fleetSize{kafka: 4}
	s := startSim(t, simState(f), "", 20)
	env := cliEnv(s, pass)
	planPath, _ := planFleet(t, t.TempDir(), env, fleetManifest(f, 1, "50ms", 400))
	first := exec.Command(cliBinary, "apply", "plan.json", "--state", url, "--out", "reports")
	first.Dir, first.Env = runnerDir(t, planPath), env
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Wait()
	defer first.Process.Kill()
	time.Sleep(500 * time.Millisecond)
	r := cli(t, runnerDir(t, planPath), env, "apply", "plan.json", "--state", url, "--out", "reports")
	host, _ := os.Hostname()
	if r.code != 5 || !strings.Contains(r.stderr, host) || !strings.Contains(r.stderr, "pid ") {
		t.Errorf("second apply: want exit 5 naming the holder's pid and host %s: %s", host, r)
	}
}

// Two plans over the same instances (the fleet planned twice: two digests) are applied at
// once by two runners sharing a state database: every instance is upgraded exactly once,
// the second plan's steps waiting for the first's leases and then finding nothing to do.
func TestPostgresStateTwoPlansOverSharedInstancesNeverUpgradeOneTwice(t *testing.T) {
	url, pass, _ := pgState(t)
	f := each(10)
	s := startSim(t, simState(f), "", 100)
	env := cliEnv(s, pass)
	planDir := t.TempDir()
	pathA, p := planFleet(t, planDir, env, fleetManifest(f, 8, "50ms", 400))
	dirA := runnerDir(t, pathA)
	time.Sleep(1100 * time.Millisecond) // another created_at: another digest
	pathB, pB := planFleet(t, planDir, env, fleetManifest(f, 8, "50ms", 400))
	if pB.Digest == p.Digest {
		t.Fatal("the two plans share a digest")
	}
	dirB := runnerDir(t, pathB)
	var wg sync.WaitGroup
	var ra, rb result
	wg.Add(2)
	go func() {
		defer wg.Done()
		ra = cli(t, dirA, env, "apply", "plan.json", "--state", url, "--out", "reports")
	}()
	go func() {
		defer wg.Done()
		rb = cli(t, dirB, env, "apply", "plan.json", "--state", url, "--out", "reports")
	}()
	wg.Wait()
	for _, r := range []result{ra, rb} {
		if r.code != 0 {
			t.Errorf("apply: %s", r)
		}
	}
	checkOneUpgradePerChange(t, p, s.Calls())
}

// shardFleet is a fleet over four accounts (three Alibaba, one Tencent), one target each,
// rabbit after kafka and redis after mongo: dealt over four shards, every shard has one
// account and two of them wait for another shard's target.
func shardFleet(n int) (state, manifest string, env []string) {
	var b strings.Builder
	b.WriteString(`accounts:
  - {name: a1, cloud: alibaba, keyId: ak1, secret: sk1}
  - {name: a2, cloud: alibaba, keyId: ak2, secret: sk2}
  - {name: a3, cloud: alibaba, keyId: ak3, secret: sk3}
  - {name: t1, cloud: tencent, keyId: id1, secret: key1}
qps: {alikafka/UpgradeInstanceVersion: 0, redis/UpgradeInstance: 0, redis/DescribeInstances: 0}
durations: {kafka: 20s, mongodb: 20s, rabbitmq: 20s, computenest: 20s, redis: 20s}
`)
	full := simState(each(n))
	for _, kind := range []string{"kafka", "mongodb", "rabbitmq", "redis"} {
		acct := map[string]string{"kafka": "a1", "mongodb": "a2", "rabbitmq": "a3", "redis": "t1"}[kind]
		b.WriteString(kind + ":\n")
		_, rest, _ := strings.Cut(full, "\n"+kind+":\n")
		for _, line := range strings.Split(rest, "\n") {
			if !strings.HasPrefix(line, "  - ") {
				break
			}
			line = strings.Replace(line, "account: demo-ali", "account: "+acct, 1)
			b.WriteString(strings.Replace(line, "account: demo-tc", "account: "+acct, 1) + "\n")
		}
	}
	manifest = `apiVersion: upgradeplan/v1
kind: Fleet
metadata: {name: shards, owner: sre}
accounts:
  a1: {cloud: alibaba, accessKeyId: {fromEnv: A1_AK}, accessKeySecret: {fromEnv: A1_SK}}
  a2: {cloud: alibaba, accessKeyId: {fromEnv: A2_AK}, accessKeySecret: {fromEnv: A2_SK}}
  a3: {cloud: alibaba, accessKeyId: {fromEnv: A3_AK}, accessKeySecret: {fromEnv: A3_SK}}
  t1: {cloud: tencent, secretId: {fromEnv: T1_ID}, secretKey: {fromEnv: T1_KEY}}
settings: {parallelism: 8, pollInterval: 50ms, stepTimeout: 2m}
targets:
  - {name: kafka-a1, kind: alibaba.kafka, account: a1, region: cn-hangzhou, select: {tags: {env: rel}}, desired: {version: "2.2.0"}, canary: 1}
  - {name: mongo-a2, kind: alibaba.mongodb, account: a2, region: cn-hangzhou, select: {tags: {env: rel}}, desired: {kernelVersion: latest}}
  - {name: rabbit-a3, kind: alibaba.rabbitmq, account: a3, region: cn-hangzhou, select: {tags: {env: rel}}, desired: {maxPrivateTps: 5000, queueCapacity: 2000}, dependsOn: [kafka-a1]}
  - {name: redis-t1, kind: tencent.redis, account: t1, region: ap-shanghai, select: {tags: {env: rel}}, desired: {memSizeMB: 8192, shards: 5}, dependsOn: [mongo-a2]}
`
	env = []string{"A1_AK=ak1", "A1_SK=sk1", "A2_AK=ak2", "A2_SK=sk2", "A3_AK=ak3", "A3_SK=sk3", "T1_ID=id1", "T1_KEY=key1"}
	return b.String(), manifest, env
}

// comparable strips from a record what differs between two runs of one plan however they
// ran: times, processes, request ids, poll counts.
func comparable(rec *executor.Record) *executor.Record {
	c := *rec
	c.StartedAt, c.FinishedAt, c.Segments, c.Tool, c.Plan.Path = time.Time{}, time.Time{}, nil, "", ""
	c.Buckets = nil
	for _, b := range rec.Buckets {
		if b.Mutating {
			c.Buckets = append(c.Buckets, executor.BucketStats{Account: b.Account, Action: b.Action, Calls: b.Calls, Mutating: true})
		}
	}
	c.Steps = append([]executor.StepRecord(nil), rec.Steps...)
	for i := range c.Steps {
		s := &c.Steps[i]
		s.StartedAt, s.FinishedAt, s.DurationSeconds, s.RequestIDs, s.OrderID, s.OrderName = nil, nil, 0, nil, "", ""
		// Whether a poll caught an in-place restart's short busy spell is timing too: a
		// restart never seen busy is taken as done after the grace, and says so.
		if strings.HasPrefix(s.Reason, inPlaceUnseen) {
			s.Reason = ""
		}
	}
	return &c
}

// inPlaceUnseen opens the reason of an in-place step whose restart no poll saw (machine.go).
const inPlaceUnseen = "never seen leaving running after the call;"

// A plan applied by four shards at once (a Kubernetes Indexed Job's four pods), each in a
// working directory of its own, ends as the same plan applied by one runner: `report
// --state --run` merges the shards' records into the record one runner writes (steps,
// counts, outcome, calls), and every instance is upgraded once. Two of the shards wait for
// a target of another shard.
func TestPostgresStateFourShardsApplyAPlanAsOneRunnerDoes(t *testing.T) {
	state, manifest, accts := shardFleet(6)
	srv := pgtest.Start(t)
	one, four := srv.NewDatabase(t), srv.NewDatabase(t)
	pass := "PGPASSWORD=" + srv.Password

	simOne := startSim(t, state, "", 100)
	envOne := cliEnv(simOne, append(accts, pass)...)
	planPath, p := planFleet(t, t.TempDir(), envOne, manifest)
	r := cli(t, runnerDir(t, planPath), envOne, "apply", "plan.json", "--state", srv.URL(one), "--out", "reports")
	if r.code != 0 {
		t.Fatalf("one runner: %s", r)
	}

	simFour := startSim(t, state, "", 100)
	envFour := cliEnv(simFour, append(accts, pass)...)
	results := applyShards(t, planPath, envFour, srv.URL(four), 4)
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("shard %d/4: %s", i, r)
		}
	}
	checkOneUpgradePerChange(t, p, simFour.Calls())
	// Across shards, a target waits for the targets it depends on: no RabbitMQ (shard of
	// a3) or Redis (t1) upgrade before the last Kafka (a1) or MongoDB (a2) upgrade was sent.
	last := map[string]time.Time{}
	first := map[string]time.Time{}
	for _, c := range simFour.Calls() {
		if !isUpgrade(c) {
			continue
		}
		if c.Time.After(last[c.Action]) {
			last[c.Action] = c.Time
		}
		if f, ok := first[c.Action]; !ok || c.Time.Before(f) {
			first[c.Action] = c.Time
		}
	}
	if !first["UpdateInstance"].After(last["UpgradeInstanceVersion"]) || !first["UpgradeInstance"].After(last["UpgradeDBInstanceKernelVersion"]) {
		t.Errorf("a shard did not wait for another shard's target: first rabbit %s, last kafka %s; first redis %s, last mongo %s",
			first["UpdateInstance"], last["UpgradeInstanceVersion"], first["UpgradeInstance"], last["UpgradeDBInstanceKernelVersion"])
	}

	reportOf := func(db, format string) string {
		r := cli(t, t.TempDir(), envFour, "report", "--state", srv.URL(db), "--run", p.Digest[:16], "--format", format)
		if r.code != 0 {
			t.Fatalf("report --state --run --format %s: %s", format, r)
		}
		return r.stdout
	}
	var single, merged executor.Record
	if err := json.Unmarshal([]byte(reportOf(one, "json")), &single); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(reportOf(four, "json")), &merged); err != nil {
		t.Fatal(err)
	}
	if len(merged.Segments) != 4 {
		t.Errorf("the merged record has %d segments, want one per shard", len(merged.Segments))
	}
	a, _ := json.MarshalIndent(comparable(&single), "", " ")
	b, _ := json.MarshalIndent(comparable(&merged), "", " ")
	if !bytes.Equal(a, b) {
		t.Errorf("the four shards' merged record differs from one runner's:\n%s", lineDiff(string(a), string(b)))
	}
	// junit.xml and report.md render from the merged record as from one runner's.
	junit := reportOf(four, "junit")
	for _, st := range p.Steps {
		if !strings.Contains(junit, st.ID) {
			t.Errorf("the merged junit.xml does not name step %s", st.ID)
			break
		}
	}
	if md := reportOf(four, "markdown"); !strings.Contains(md, p.Manifest.Name) {
		t.Errorf("the merged report.md does not name the plan %s", p.Manifest.Name)
	}
	checkAuditViews(t, srv.URLWithPassword(four), p)
}

// applyShards runs `apply plan.json --state url --shard I/n` for every I at once, each from a
// working directory of its own holding a copy of the plan, and returns how each ended.
func applyShards(t *testing.T, planPath string, env []string, url string, n int) []result {
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = cli(t, runnerDir(t, planPath), env, "apply", "plan.json", "--state", url, "--shard", fmt.Sprintf("%d/%d", i, n), "--out", "reports")
		}()
	}
	wg.Wait()
	return results
}

// checkAuditViews checks the auditors' views after a run in which every step succeeded with
// one call, and runs every SQL example of docs/postgres-state.md.
func checkAuditViews(t *testing.T, url string, p *planner.Plan) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if n := count(t, conn, "SELECT count(*) FROM upgradeplan.steps WHERE run = $1 AND status = 'succeeded' AND runner_host <> ''", p.Digest); n != len(p.Steps) {
		t.Errorf("upgradeplan.steps: %d succeeded steps, want %d", n, len(p.Steps))
	}
	if n := count(t, conn, "SELECT count(*) FROM upgradeplan.calls WHERE run = $1 AND status = 'accepted' AND request_id <> '' AND instance <> ''", p.Digest); n != len(p.Steps) {
		t.Errorf("upgradeplan.calls: %d accepted calls with a request id and an instance, want %d", n, len(p.Steps))
	}
	if n := count(t, conn, "SELECT count(*) FROM upgradeplan.segments WHERE run = $1 AND stop = ''", p.Digest); n != 4 {
		t.Errorf("upgradeplan.segments: %d finished segments, want 4", n)
	}
	inst := p.Steps[0].Instance
	if n := count(t, conn, "SELECT count(*) FROM upgradeplan.calls WHERE instance = $1", inst); n != 1 {
		t.Errorf("every call made to %s: %d rows, want 1", inst, n)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "postgres-state.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 2 {
		t.Fatalf("docs/postgres-state.md has %d SQL examples", len(blocks))
	}
	for _, b := range blocks {
		rows, err := conn.Query(t.Context(), b[1])
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if err != nil {
			t.Errorf("the example SQL of docs/postgres-state.md fails: %v\n%s", err, b[1])
		}
	}
}

// lineDiff lists the lines where a and b differ (the first few).
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(al), len(bl)) && len(out) < 20; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("line %d: one runner %q, four shards %q", i+1, x, y))
		}
	}
	return strings.Join(out, "\n")
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/manifest"
	"github.com/upgradeplan/upgradeplan/planner"
)

// Every profile's workload is one the tool and the simulator accept as they are.
func TestEveryProfileGeneratesAFleetAndStateTheToolsAccept(t *testing.T) {
	for _, p := range append(profiles(), scaleProfile(1000)) {
		if p.name == "large" || strings.HasPrefix(p.name, "scale") {
			p = p.atSize(2000) // the same shape; 100,000 instances is slow to parse here
		}
		w := generate(p.mix)
		fleet, err := manifest.Parse(p.name+".yaml", w.fleet)
		if err != nil {
			t.Fatalf("%s: fleet: %v", p.name, err)
		}
		if _, err := cloudsim.New(w.state, sim.Options{TimeScale: p.timeScale, Faults: []byte(p.faults)}); err != nil {
			t.Fatalf("%s: state and faults: %v", p.name, err)
		}
		if fleet.Settings.Parallelism != p.mix.parallelism {
			t.Errorf("%s: parallelism %d, want %d", p.name, fleet.Settings.Parallelism, p.mix.parallelism)
		}
	}
	real, _ := findProfile("realistic")
	w := generate(real.mix)
	fleet, err := manifest.Parse("realistic.yaml", w.fleet)
	if err != nil {
		t.Fatal(err)
	}
	deps := 0
	for _, tg := range fleet.Targets {
		deps += len(tg.DependsOn)
	}
	if deps == 0 {
		t.Error("realistic: no target dependsOn another")
	}
	if n := strings.Count(string(w.state), "id: crs-tc-a-shanghai-"); n != 5000 {
		t.Errorf("realistic: cache-tc-a-shanghai has %d instances, want 5,000", n)
	}
	if old, all := strings.Count(string(w.state), `version: "2"`), w.byKind["alibaba.computenest"]; old*5 != all {
		t.Errorf("realistic: %d of %d Compute Nest instances change, want 20%%", old, all)
	}
}

// The bound is a lower bound: no order of sending a bucket's calls at its cap finishes
// before it, whatever the durations and releases.
func TestBucketBoundNeverBeatsTheBestOrder(t *testing.T) {
	p := profile{timeScale: 600, seed: 3, spread: 0.5, latMin: 50 * time.Millisecond}
	plan := &planner.Plan{Settings: planner.Settings{Parallelism: 100}}
	plan.Targets = []planner.Target{{Name: "k", Kind: "alibaba.kafka"}}
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		plan.Steps = append(plan.Steps, planner.Step{ID: id, Target: "k", Kind: "alibaba.kafka", Account: "x",
			Instance: "alikafka-" + id, Action: "UpgradeInstanceVersion", Wave: min(i, 1)})
	}
	b := lowerBound(p, plan)
	d := stepDurations(p, plan)
	if d[1] == d[2] {
		t.Fatal("the spread drew equal durations; pick another seed")
	}
	// Step a is the canary (wave 0): the rest are released when it ends.
	best := time.Duration(1 << 62)
	rest := []int{1, 2, 3, 4}
	var permute func(k int)
	permute = func(k int) {
		if k == len(rest) {
			end, at := d[0], d[0]
			for j, i := range rest {
				send := max(at, time.Duration(j+1)*time.Second/2) // 2/s: the canary left at 0
				end = max(end, send+d[i])
				at = send + time.Second/2
			}
			best = min(best, end)
			return
		}
		for i := k; i < len(rest); i++ {
			rest[k], rest[i] = rest[i], rest[k]
			permute(k + 1)
			rest[k], rest[i] = rest[i], rest[k]
		}
	}
	permute(0)
	if b.total > best {
		t.Errorf("bound %s is above the best order's makespan %s", b.total, best)
	}
	if b.total < d[0] {
		t.Errorf("bound %s is below the canary's own duration %s", b.total, d[0])
	}
}

func TestAResultsFileKeepsTheSectionsNotRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	if err := writeResults(path, map[string]string{"ideal": "ideal numbers\n", "realistic": "first realistic\n"}); err != nil {
		t.Fatal(err)
	}
	if err := writeResults(path, map[string]string{"realistic": "second realistic\n"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"ideal numbers", "second realistic", "## large\n\nNot measured yet."} {
		if !strings.Contains(s, want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "first realistic") {
		t.Error("RESULTS.md kept the realistic section a later run replaced")
	}
}

func TestAppliedCheckCountsEveryInstanceOffItsPlannedChanges(t *testing.T) {
	plan := &planner.Plan{Steps: []planner.Step{
		{Kind: "tencent.redis", Instance: "crs-1"}, {Kind: "tencent.redis", Instance: "crs-1"}, {Kind: "tencent.redis", Instance: "crs-1"},
		{Kind: "alibaba.kafka", Instance: "k-1"}, {Kind: "alibaba.kafka", Instance: "k-2"},
	}}
	app := func(specs ...string) []applied {
		var out []applied
		for _, s := range specs {
			p, i, _ := strings.Cut(s, "/")
			out = append(out, applied{Product: p, Instance: i})
		}
		return out
	}
	exact := app("redis/crs-1", "redis/crs-1", "redis/crs-1", "alikafka/k-1", "alikafka/k-2")
	for _, tc := range []struct {
		name string
		app  []applied
		ok   bool
	}{
		{"exactly once", exact, true},
		{"one missing, one twice: the total still matches", app("redis/crs-1", "redis/crs-1", "redis/crs-1", "alikafka/k-1", "alikafka/k-1"), false},
		{"a chain step short", exact[1:], false},
		{"an actor's change does not count", append(exact, applied{Product: "alikafka", Instance: "k-1", Actor: "oncall"}), true},
		{"an unplanned instance", append(exact[:4:4], applied{Product: "alikafka", Instance: "k-9"}), false},
	} {
		r := appliedCheck(result{steps: len(plan.Steps)}, plan, tc.app)
		if r.appliedOK() != tc.ok {
			t.Errorf("%s: ok = %v (%s), want %v", tc.name, r.appliedOK(), appliedString(r), tc.ok)
		}
	}
}

// 60 MongoDB steps of one account need 120 DescribeDBInstanceAttribute reads (a judgement
// before each call, a confirmation after it) at 10/s: 11.9 s plus the last answer, more
// than their upgrade calls' own bucket (60 at 10/s, then one duration), so the bound is
// the forced reads' and says so; the steps of another account are a bucket of their own.
func TestForcedReadsOfMongoDBBoundTheMakespan(t *testing.T) {
	p := profile{timeScale: 600, latMin: 50 * time.Millisecond}
	plan := &planner.Plan{Settings: planner.Settings{Parallelism: 1000}}
	plan.Targets = []planner.Target{{Name: "m", Kind: "alibaba.mongodb"}}
	for i := range 70 {
		acct := "x"
		if i >= 60 {
			acct = "y"
		}
		plan.Steps = append(plan.Steps, planner.Step{ID: fmt.Sprint(i), Target: "m", Kind: "alibaba.mongodb", Account: acct,
			Instance: fmt.Sprintf("dds-%02d", i), Action: "UpgradeDBInstanceKernelVersion"})
	}
	b := lowerBound(p, plan)
	want := 11900*time.Millisecond + p.latMin
	if b.total != want || b.what != "forced reads of x alibaba.mongodb/DescribeDBInstanceAttribute" {
		t.Errorf("bound %s (%s), want %s from the forced reads of account x", b.total, b.what, want)
	}
	var rows []string
	for _, bb := range b.buckets {
		if bb.forced {
			rows = append(rows, fmt.Sprintf("%s %d", bb.key, bb.calls))
		}
	}
	if got := strings.Join(rows, "; "); got != "x alibaba.mongodb/DescribeDBInstanceAttribute 120; y alibaba.mongodb/DescribeDBInstanceAttribute 20" {
		t.Errorf("forced-read rows: %s", got)
	}
	if n := forcedConfirmations(plan); n != 70 {
		t.Errorf("%d forced confirmations, want one per MongoDB step (70)", n)
	}
}

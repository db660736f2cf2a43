package planner

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// fleetPlan is n steps shaped like a bench fleet's: four targets of one kind each, every
// step with its instance's parameters, a from and to that most steps share, and notes;
// every third instance has a chain of two.
func fleetPlan(tb testing.TB, n int) *Plan {
	p := &Plan{FormatVersion: FormatVersion, ToolVersion: "test", CreatedAt: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC),
		Manifest: Source{Path: "fleet.yaml", Name: "fleet"}, Settings: Settings{Parallelism: 10, PollInterval: Duration(time.Second), StepTimeout: Duration(time.Hour)}}
	per := n / 4
	for t := range 4 {
		name := fmt.Sprintf("cache-%d-shanghai", t)
		tg := Target{Name: name, Kind: "tencent.redis", Region: "ap-shanghai", Account: "tc-a",
			Select: provider.Selection{Tags: map[string]string{"fleet": name}}}
		for i := 0; len(p.Steps) < (t+1)*per; i++ {
			inst := fmt.Sprintf("crs-%d-%05d", t, i)
			tg.Instances = append(tg.Instances, inst)
			chain := 1 + min(1, i%3)
			for c := 1; c <= chain && len(p.Steps) < (t+1)*per; c++ {
				id := name + "/" + inst
				var deps []string
				if chain > 1 {
					id += fmt.Sprintf("#%d", c)
				}
				if c > 1 {
					deps = []string{p.Steps[len(p.Steps)-1].ID}
				}
				p.Steps = append(p.Steps, Step{ID: id, Target: name, Kind: "tencent.redis", Region: "ap-shanghai", Account: "tc-a",
					Instance: inst, Action: "UpgradeInstance",
					Params:    map[string]any{"InstanceId": inst, "MemSize": 4096 * (c + 1), "RedisReplicasNum": 2, "RedisShardNum": 3},
					From:      provider.Values{"memSizeMB": 4096 * c, "replicas": 2, "shards": 3},
					To:        provider.Values{"memSizeMB": 4096 * (c + 1), "replicas": 2, "shards": 3},
					DependsOn: deps, Notes: []string{fmt.Sprintf("change %d of %d on this instance: one dimension per UpgradeInstance call", c, chain)}})
			}
		}
		p.Targets = append(p.Targets, tg)
	}
	return p
}

// What apply holds of a read plan: the decoder allocates every string and map of every
// step anew (1,878 bytes a step on the 100,000-instance bench plan, 114 MB); compact
// shares what steps repeat (683 bytes a step, 41 MB). On this test's 10,000 Redis steps: 1,760
// bytes a step without compact, about 600 with it.
func TestADecodedPlanHoldsLittlePerStep(t *testing.T) {
	const n = 10_000
	var file bytes.Buffer
	if err := Encode(&file, fleetPlan(t, n)); err != nil {
		t.Fatal(err)
	}
	data := file.Bytes()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	p, err := Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	held := float64(ms.HeapAlloc) - float64(before)
	runtime.KeepAlive(p)
	runtime.KeepAlive(data)
	t.Logf("%d steps: %.1f MB held, %.0f bytes a step", len(p.Steps), held/1e6, held/n)
	if held/n > 900 {
		t.Fatalf("a decoded plan holds %.0f bytes a step; want at most 900 (its strings and equal from/to values shared)", held/n)
	}
}

// compact changes no value: the plan encodes to the same bytes and digest, and steps
// that name the same thing share it.
func TestCompactKeepsEveryValue(t *testing.T) {
	var file bytes.Buffer
	if err := Encode(&file, fleetPlan(t, 300)); err != nil {
		t.Fatal(err)
	}
	p, err := Decode(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := Encode(&again, p); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), file.Bytes()) {
		t.Fatal("the compacted plan encodes to other bytes than the file it was read from")
	}
	a, b := p.Steps[0], p.Steps[3] // two first changes of different instances
	if fmt.Sprintf("%p", a.From) != fmt.Sprintf("%p", b.From) || a.Params["InstanceId"] == b.Params["InstanceId"] {
		t.Fatalf("steps 0 and 3: from %p and %p not shared, or their parameters are", a.From, b.From)
	}
	if dep := p.Steps[2].DependsOn[0]; dep != p.Steps[1].ID {
		t.Fatalf("step 2 depends on %q, want %q", dep, p.Steps[1].ID)
	}
}

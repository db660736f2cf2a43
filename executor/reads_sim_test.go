package executor_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	ddssim "github.com/upgradeplan/upgradeplan/cloudsim/dds"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/manifest"
	"github.com/upgradeplan/upgradeplan/planner"
)

// A MongoDB apply in which most steps wait for a parallelism slot reads each kernel at
// most twice per step: once to judge the instance right before its call, once to confirm
// the new kernel (only DescribeDBInstanceAttribute shows it). The checks while an upgrade
// runs read the status from the list, and a step waiting for its slot is not read ahead of
// time, where a verdict it cannot use once it gets its slot would be a read thrown away.
// At parallelism 1 every later step waits for its slot longer than the look freshness
// bound: a look taken at its bucket's gate, before the slot, was read again in the send
// guard (at parallelism 3 that happened in about one run of four, 63 reads at 1).
func TestMongoDBApplyReadsEachKernelAtMostTwicePerStep(t *testing.T) {
	const n = 24
	var st strings.Builder
	st.WriteString("accounts:\n  - {name: demo-ali, cloud: alibaba, keyId: demo-ak, secret: demo-sk}\ndurations: {mongodb: 240s}\nmongodb:\n")
	for i := range n {
		fmt.Fprintf(&st, "  - {id: dds-%02d, region: cn-hangzhou, account: demo-ali, engineVersion: \"4.4\", kernelVersion: mongodb_20231123_4.4.25, replicationFactor: 3, tags: {env: demo}}\n", i)
	}
	s := simtest.Start(t, st.String(), sim.Options{TimeScale: timeScale}, ddssim.New())
	s.SetEnv(t)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "demo-ak")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "demo-sk")
	p, path := planFleet(t, `apiVersion: upgradeplan/v1
kind: Fleet
metadata: {name: reads, owner: platform}
settings: {pollInterval: 100ms, stepTimeout: 30s, parallelism: 1}
targets:
  - name: mongo-hz
    kind: alibaba.mongodb
    region: cn-hangzhou
    select: {tags: {env: demo}}
    desired: {kernelVersion: latest}
`)
	if len(p.Steps) != n {
		t.Fatalf("plan has %d steps, want %d", len(p.Steps), n)
	}
	planned := len(s.Calls())
	rec := apply(t, context.Background(), p, path, t.TempDir(), false)
	if rec.Outcome.ExitCode != executor.ExitOK || rec.Counts[executor.StatusSucceeded] != n {
		t.Fatalf("outcome %+v counts %v, want all %d succeeded", rec.Outcome, rec.Counts, n)
	}
	reads, upgrades := map[string]int{}, map[string]int{}
	for _, c := range s.Calls()[planned:] {
		switch c.Action {
		case "DescribeDBInstanceAttribute":
			reads[c.Instance]++
		case "UpgradeDBInstanceKernelVersion":
			upgrades[c.Instance]++
		}
	}
	total := 0
	for i := range n {
		id := fmt.Sprintf("dds-%02d", i)
		total += reads[id]
		if reads[id] > 2 {
			t.Errorf("%s: %d DescribeDBInstanceAttribute during the apply, want at most 2 (judge, confirm)", id, reads[id])
		}
		if upgrades[id] != 1 {
			t.Errorf("%s: %d upgrade calls, want exactly 1", id, upgrades[id])
		}
	}
	t.Logf("%d kernel reads for %d steps", total, n)
	if t.Failed() {
		for _, c := range s.Calls()[planned:] {
			t.Logf("%s %s %s %s", c.Time.Format("05.000"), c.Action, c.Instance, c.Code)
		}
	}
}

// planFleet plans a fleet file against the simulator and reads the plan back from its file.
func planFleet(t *testing.T, fleetFile string) (*planner.Plan, string) {
	t.Helper()
	fleet, err := manifest.Parse("fleet.yaml", []byte(fleetFile))
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

package planner_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/manifest"
	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider/products"
	"github.com/upgradeplan/upgradeplan/report"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden")

// demoEnv is the environment of `make demo`: the default credential chains pointed at the
// simulator, and the Compute Nest password the demo fleet references.
func demoEnv(s *simtest.Sim) func(string) string {
	env := map[string]string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     "demo-ak",
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "demo-sk",
		"TENCENTCLOUD_SECRET_ID":          "demo-id",
		"TENCENTCLOUD_SECRET_KEY":         "demo-key",
		"DEMO_SI_PASSWORD":                "Demo-Passw0rd!",
		// The named accounts of testdata/golden/accounts.yaml.
		"HZ_AK": "demo-ak", "HZ_SK": "demo-sk", "SH_ID": "demo-id", "SH_KEY": "demo-key",
	}
	if s == nil {
		return func(k string) string { return env[k] }
	}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// startSim starts the simulator with testdata/golden/state.yaml. The Alibaba SDK's default
// credential chain reads the process environment, so the demo credentials are set there too.
func startSim(t *testing.T) *simtest.Sim {
	t.Helper()
	for _, k := range []string{"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"} {
		t.Setenv(k, demoEnv(nil)(k))
	}
	state, err := os.ReadFile("testdata/golden/state.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return simtest.Start(t, string(state), sim.Options{}, simProducts()...)
}

func planFleet(t *testing.T, s *simtest.Sim, file string, now time.Time) *planner.Plan {
	t.Helper()
	fleet, err := manifest.Load(file)
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	p, err := planner.Build(context.Background(), fleet, products.Registry(), planner.Options{
		Getenv:       demoEnv(s),
		Now:          func() time.Time { return now },
		ToolVersion:  "v0.0.0-golden",
		ManifestPath: filepath.ToSlash(file),
	})
	if err != nil {
		t.Fatalf("plan %s:\n%v", file, err)
	}
	return p
}

// TestGoldenPlans plans example fleets against the simulator through the real providers and
// pins the plan file, the terminal text and the pull-request Markdown.
func TestGoldenPlans(t *testing.T) {
	tests := []struct {
		name  string
		fleet string
	}{
		{name: "the demo fleet plans a change in every target", fleet: "../examples/fleet.yaml"},
		{name: "named accounts, ids and a two-instance canary", fleet: "testdata/golden/accounts.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startSim(t)
			p := planFleet(t, s, tc.fleet, time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC))
			base := strings.TrimSuffix(filepath.Base(tc.fleet), ".yaml")
			var file, text, md bytes.Buffer
			if err := planner.Encode(&file, p); err != nil {
				t.Fatal(err)
			}
			if err := report.PlanText(&text, p, "plan.json"); err != nil {
				t.Fatal(err)
			}
			if err := report.PlanMarkdown(&md, p, "plan.json"); err != nil {
				t.Fatal(err)
			}
			golden(t, "testdata/golden/"+base+".plan.json.golden", file.Bytes())
			golden(t, "testdata/golden/"+base+".txt.golden", text.Bytes())
			golden(t, "testdata/golden/"+base+".md.golden", md.Bytes())
			for _, secret := range []string{"Demo-Passw0rd!", "demo-sk", "demo-key"} {
				for name, out := range map[string][]byte{"plan file": file.Bytes(), "text": text.Bytes(), "markdown": md.Bytes()} {
					if bytes.Contains(out, []byte(secret)) {
						t.Errorf("the %s contains the secret value %q", name, secret)
					}
				}
			}
		})
	}
}

// TestTheDemoFleetChangesEveryTarget is the acceptance check, independent of the
// golden bytes: every target of examples/fleet.yaml has steps against the demo state.
func TestTheDemoFleetChangesEveryTarget(t *testing.T) {
	s := startSim(t)
	p := planFleet(t, s, "../examples/fleet.yaml", time.Now())
	steps := map[string]int{}
	for _, st := range p.Steps {
		steps[st.Target]++
	}
	for _, tg := range p.Targets {
		if steps[tg.Name] == 0 {
			t.Errorf("target %s has no step; every demo target must change", tg.Name)
		}
	}
	if len(p.Targets) != 5 {
		t.Errorf("the demo plan has %d targets, want 5", len(p.Targets))
	}
}

func TestPlanningTheSimulatorTwiceGivesTheSameFileApartFromCreatedAtAndDigest(t *testing.T) {
	s := startSim(t)
	var files [2]string
	for i := range files {
		p := planFleet(t, s, "../examples/fleet.yaml", time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC))
		var buf bytes.Buffer
		if err := planner.Encode(&buf, p); err != nil {
			t.Fatal(err)
		}
		var kept []string
		for _, line := range strings.Split(buf.String(), "\n") {
			if !strings.Contains(line, `"created_at":`) && !strings.Contains(line, `"digest":`) {
				kept = append(kept, line)
			}
		}
		files[i] = strings.Join(kept, "\n")
	}
	if files[0] != files[1] {
		t.Errorf("two plans of the same fleet and state differ:\n%s\n---\n%s", files[0], files[1])
	}
}

func TestPlanReadsOncePerKindAccountAndRegionAndSendsNoChange(t *testing.T) {
	s := startSim(t)
	planFleet(t, s, "../examples/fleet.yaml", time.Now())
	// One page each: the demo has at most four instances per product. MongoDB is listed once
	// per instance type (DescribeDBInstances lists replica sets unless asked for sharding).
	for action, want := range map[string]int{"GetInstanceList": 1, "DescribeDBInstances": 2, "ListInstances": 1, "ListServiceInstances": 1, "DescribeInstances": 1} {
		if n := s.Count(action); n != want {
			t.Errorf("%s was called %d times, want %d", action, n, want)
		}
	}
	for _, c := range s.CallsTo("") {
		switch {
		case c.Action == "UpgradeServiceInstance" && c.Params["DryRun"] == "true":
			// The Compute Nest preflight: it checks the required parameters, changes nothing.
		case strings.HasPrefix(c.Action, "Upgrade"), strings.HasPrefix(c.Action, "Update"):
			t.Errorf("plan sent the mutating call %s %s (parameters %v)", c.Action, c.Instance, c.Params)
		}
	}
	// Both demo instances are service-demo-marketplace at version 2 going to the same version
	// with the same parameter names: the DryRun's answer is the service's, sent once.
	if n := s.Count("UpgradeServiceInstance"); n != 1 {
		t.Errorf("plan sent %d Compute Nest DryRun preflights, want one per (service, from, to, parameter names) (1)", n)
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./planner -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./planner -update rewrites it after review):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

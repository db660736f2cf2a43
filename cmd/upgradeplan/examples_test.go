package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upgradeplan/upgradeplan/cloudsim"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

// exampleEnv is what a newcomer exports for the examples (README.md, "Try it"): the demo
// credentials, the Compute Nest passwords and change-window.yaml's account variables.
var exampleEnv = map[string]string{
	"ALIBABA_CLOUD_ACCESS_KEY_ID": "demo-ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "demo-sk",
	"TENCENTCLOUD_SECRET_ID": "demo-id", "TENCENTCLOUD_SECRET_KEY": "demo-key",
	"DEMO_SI_PASSWORD": "anything", "SI_PASSWORD": "anything",
	"PROD_ALI_AK": "prod-ak", "PROD_ALI_SK": "prod-sk", "PROD_TC_SK": "prod-tc-key",
}

// Every manifest in examples/ plans against its simulator state (examples/sim/NAME.state.yaml,
// or the demo's state.yaml for fleet.yaml) with changes to make: an example a newcomer cannot
// run teaches nothing, and one the product rules refuse teaches the wrong thing.
func TestEveryExamplePlansAgainstItsState(t *testing.T) {
	manifests, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(manifests) < 7 {
		t.Fatalf("examples: %v (%d manifests)", err, len(manifests))
	}
	for _, m := range manifests {
		name := strings.TrimSuffix(filepath.Base(m), ".yaml")
		t.Run(name, func(t *testing.T) {
			statePath := filepath.Join("../../examples/sim", name+".state.yaml")
			if name == "fleet" {
				statePath = "../../examples/sim/state.yaml"
			}
			state, err := os.ReadFile(statePath)
			if err != nil {
				t.Fatalf("%s has no simulator state: %v", m, err)
			}
			s := simtest.Start(t, string(state), sim.Options{}, cloudsim.Products()...)
			s.SetEnv(t)
			for k, v := range exampleEnv {
				t.Setenv(k, v)
			}
			out := filepath.Join(t.TempDir(), "plan.json")
			var stderr strings.Builder
			if code := runWith(context.Background(), []string{"upgradeplan", "plan", m, "-o", out, "--detailed-exitcode"}, io.Discard, &stderr); code != ExitFailed {
				t.Fatalf("plan %s exited %d, want %d (changes to make):\n%s", m, code, ExitFailed, stderr.String())
			}
			var plan struct{ Steps []json.RawMessage }
			data, _ := os.ReadFile(out)
			if err := json.Unmarshal(data, &plan); err != nil || len(plan.Steps) == 0 {
				t.Errorf("the plan of %s has no steps (%v)", m, err)
			}
		})
	}
}

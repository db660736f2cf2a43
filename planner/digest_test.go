package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/manifest"
	"github.com/upgradeplan/upgradeplan/provider"
)

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func demoFleet() (*fakeCloud, *manifest.Fleet) {
	cloud := &fakeCloud{instances: map[string][]provider.Instance{
		"r1": {inst("c-1", 1024, 2, "env", "prod"), inst("c-2", 1024, 2, "env", "prod"), inst("c-3", 2048, 4, "env", "prod")},
	}}
	fleet := fleetOf(
		manifest.Target{Name: "cache", Select: manifest.Selection{Tags: map[string]string{"env": "prod"}},
			Desired: map[string]any{"size": int64(2048), "count": int64(4), "password": manifest.SecretRef{FromEnv: "PW"}}, Canary: 1},
		manifest.Target{Name: "queue", Kind: "fake.queue", Select: manifest.Selection{IDs: []string{"c-1"}},
			Desired: map[string]any{"count": int64(3)}, DependsOn: []string{"cache"}},
	)
	return cloud, fleet
}

func TestPlanningTwiceWritesTheSameBytesApartFromCreatedAtAndDigest(t *testing.T) {
	var files [2][]byte
	var digests [2]string
	for i := range files {
		cloud, fleet := demoFleet()
		p, err := Build(t.Context(), fleet, cloud.registry(), Options{
			Now:         func() time.Time { return time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC) },
			ToolVersion: "v1",
		})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Encode(&buf, p); err != nil {
			t.Fatal(err)
		}
		files[i] = buf.Bytes()
		digests[i] = p.Digest
	}
	// created_at is inside the digest: each plan file is its own reviewed object, so a
	// re-plan cannot continue another plan's run or reuse its ClientTokens.
	if digests[0] == digests[1] {
		t.Errorf("two plans made at different times share the digest %s", digests[0])
	}
	strip := func(b []byte) string {
		var out []string
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.Contains(line, `"created_at"`) && !strings.Contains(line, `"digest"`) {
				out = append(out, line)
			}
		}
		return strings.Join(out, "\n")
	}
	if strip(files[0]) != strip(files[1]) {
		t.Errorf("two plans of the same inputs differ beyond created_at:\n%s\n---\n%s", files[0], files[1])
	}
	if bytes.Equal(files[0], files[1]) {
		t.Errorf("the plans are identical although created at different times")
	}
}

func TestPlanFileRoundTrips(t *testing.T) {
	cloud, fleet := demoFleet()
	p, err := Build(t.Context(), fleet, cloud.registry(), Options{ToolVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := WriteFile(path, p); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(path)
	if err != nil {
		t.Fatalf("reading back the plan just written: %v", err)
	}
	var again bytes.Buffer
	if err := Encode(&again, back); err != nil {
		t.Fatal(err)
	}
	written, _ := os.ReadFile(path)
	if !bytes.Equal(written, again.Bytes()) {
		t.Errorf("a plan read back encodes differently:\n%s\n---\n%s", written, again.Bytes())
	}
}

// TestEditingAnyValueOfAStepBreaksTheDigest changes every value of every step, one at a
// time, in the written file and checks that reading it refuses the plan.
func TestEditingAnyValueOfAStepBreaksTheDigest(t *testing.T) {
	cloud, fleet := demoFleet()
	p, err := Build(t.Context(), fleet, cloud.registry(), Options{ToolVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, p); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	steps := doc["steps"].([]any)
	edits := 0
	var walk func(path string, v any, set func(any))
	walk = func(path string, v any, set func(any)) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(path+"."+k, e, func(n any) { x[k] = n })
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e, func(n any) { x[i] = n })
			}
			// Dropping an element (a dependency, a note) must be caught too.
			if len(x) > 0 {
				set(x[1:])
				check(t, doc, path+" without its first element")
				edits++
				set(x)
			}
		case string:
			set(x + "x")
			check(t, doc, path)
			edits++
			set(x)
		case float64:
			set(x + 1)
			check(t, doc, path)
			edits++
			set(x)
		case bool:
			set(!x)
			check(t, doc, path)
			edits++
			set(x)
		}
	}
	for i, s := range steps {
		walk(fmt.Sprintf("steps[%d]", i), s, func(n any) { steps[i] = n })
	}
	if edits < 50 {
		t.Errorf("only %d edits were tried; the walk missed the steps", edits)
	}
}

func check(t *testing.T, doc map[string]any, what string) {
	t.Helper()
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Decode(bytes.NewReader(b))
	if !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("after editing %s, Decode returned %v, want a digest mismatch", what, err)
	}
}

package reliability

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A reviewed plan is the contract: a plan file with one byte changed anywhere its digest
// covers is refused by apply and show with exit 4 before anything is sent, and apply writes
// no run record for it. Every edit below keeps the file valid JSON and would change what
// apply does.
func TestPlanWithOneByteChangedIsRefused(t *testing.T) {
	f := each(2)
	s := startSim(t, simState(f), "", 200)
	dir := t.TempDir()
	env := cliEnv(s)
	planPath, plan := planFleet(t, dir, env, fleetManifest(f, 4, "50ms", 50))
	original, err := os.ReadFile(planPath)
	if err != nil {
		t.Fatal(err)
	}
	if r := cli(t, dir, env, "show", planPath); r.code != 0 {
		t.Fatalf("the untouched plan must show: %s", r)
	}

	cases := []struct {
		name     string
		anchors  []string // the edit is the first old after these, in order
		old, new string
	}{
		{"a step's params naming an instance nobody reviewed", []string{`"id": "kafka-hz/alikafka-rel-000"`, `"params"`},
			`"InstanceId": "alikafka-rel-000"`, `"InstanceId": "alikafka-rel-001"`},
		{"a step's params asking for another version", []string{`"id": "kafka-hz/alikafka-rel-000"`, `"params"`},
			`"TargetVersion": "2.2.0"`, `"TargetVersion": "2.2.1"`},
		{"a step's from", []string{`"id": "mongo-hz/dds-rel-001"`, `"from"`},
			`"kernelVersion": "4.4.25-20231123000000_0"`, `"kernelVersion": "4.4.26-20231123000000_0"`},
		{"a step's to", []string{`"id": "cache-sh/crs-rel-000#1"`, `"to"`}, `"memSizeMB": 8192`, `"memSizeMB": 9192`},
		{"a step's depends_on (the canary gate)", []string{`"id": "kafka-hz/alikafka-rel-001"`, `"depends_on"`},
			`"kafka-hz/alikafka-rel-000"`, `"kafka-hz/alikafka-rel-001"`},
		{"a target's depends_on", []string{`"name": "rabbit-hz"`, `"depends_on"`}, `"kafka-hz"`, `"kafka-hx"`},
		{"the settings' parallelism", []string{`"settings"`}, `"parallelism": 4`, `"parallelism": 9`},
		{"a rate limit in the settings", []string{`"settings"`, `"qps"`},
			`"alibaba.kafka/UpgradeInstanceVersion": 50`, `"alibaba.kafka/UpgradeInstanceVersion": 90`},
	}
	flipped := "1"
	if plan.Digest[0] == '1' {
		flipped = "2"
	}
	cases = append(cases, struct {
		name     string
		anchors  []string
		old, new string
	}{"the digest itself", nil, `"digest": "` + plan.Digest[:1], `"digest": "` + flipped})
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tampered := oneByteEdit(t, original, tc.anchors, tc.old, tc.new)
			path := filepath.Join(dir, "tampered-"+string(rune('a'+i))+".json")
			if err := os.WriteFile(path, tampered, 0o644); err != nil {
				t.Fatal(err)
			}
			before := len(s.Calls())
			out := filepath.Join(dir, "run-"+string(rune('a'+i)))
			r := cli(t, dir, env, "apply", path, "--out", out)
			if r.code != 4 || !strings.Contains(r.stderr, "plan digest does not match its content") {
				t.Errorf("apply: want exit 4 naming the digest mismatch, got %s", r)
			}
			if n := len(s.Calls()) - before; n != 0 {
				t.Errorf("apply of the edited plan sent %d calls, want none", n)
			}
			if _, err := os.Stat(filepath.Join(out, "run.json")); err == nil {
				t.Errorf("apply of the edited plan wrote %s/run.json", out)
			}
			if r := cli(t, dir, env, "show", path); r.code != 4 {
				t.Errorf("show: want exit 4, got %s", r)
			}
		})
	}
}

// oneByteEdit returns data with the first old after the anchors replaced by new, which must
// differ from it in exactly one byte, and checks the result is still valid JSON: the edit
// changes content, not syntax.
func oneByteEdit(t *testing.T, data []byte, anchors []string, old, new string) []byte {
	t.Helper()
	at := 0
	for _, a := range append(anchors, old) {
		i := bytes.Index(data[at:], []byte(a))
		if i < 0 {
			t.Fatalf("the plan has no %s after %v", a, anchors)
		}
		at += i
	}
	out := append([]byte(nil), data...)
	copy(out[at:], new)
	diff := 0
	for k := range out {
		if out[k] != data[k] {
			diff++
		}
	}
	if diff != 1 || len(old) != len(new) {
		t.Fatalf("the edit %s → %s changes %d bytes, want exactly one", old, new, diff)
	}
	if !json.Valid(out) {
		t.Fatalf("the edited plan is not valid JSON")
	}
	return out
}

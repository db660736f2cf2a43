package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds the parser arbitrary bytes. It must never panic or hang, and its answer is
// always either a fleet or a sorted list of positioned problems. The seeds (the examples and
// YAML that has broken parsers before) run in every go test; make fuzz explores from them.
func FuzzParse(f *testing.F) {
	examples, _ := filepath.Glob("../examples/*.yaml")
	for _, file := range examples {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		"",
		"---\n",
		"~",
		"[]",
		"a: 1\n---\nb: 2\n",
		header + mongo,
		header + mongo + mongo,
		// anchors, aliases, merges
		"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
		"a: &a [*a]\n",
		"a: &a {b: *a}\n",
		"<<: *nope\n",
		"a: &a {x: 1}\nb: {<<: [*a, *a], <<: *a}\n",
		"a: &a {<<: *a}\n",
		"*a: 1\n",
		"? [a, b]\n: c\n",
		// deep nesting, long keys, tabs, odd scalars and tags
		strings.Repeat("[", 10000),
		strings.Repeat("- ", 500) + "x\n",
		strings.Repeat("{a: ", 200) + "1" + strings.Repeat("}", 200),
		"apiVersion: upgradeplan/v1\n\tkind: Fleet\n",
		"a: !!binary aGVsbG8=\nb: !custom x\nc: .inf\nd: .nan\ne: 0x1F\nf: 1e400\ng: 99999999999999999999\n",
		"a: \"\\xff\\u0000\"\nb: 2026-11-28T01:00:00+08:00\n",
		"a: 1\na: 2\n",
		"\xef\xbb\xbfapiVersion: upgradeplan/v1\n",
		"settings: {window: {start: 2026-11-28T01:00:00Z, end: 2026-11-28T02:00:00Z, cutoff: 2h}}\n",
		"targets: [{name: a, dependsOn: [a]}, {name: a}]\n",
		// issue 13: whole numbers as floats, empty selections, secrets, credential variables
		header + "  - {name: k, kind: alibaba.kafka, region: cn-hangzhou, select: {tags: {env: prod}}, desired: {version: \"2.2.0\"}, canary: 1.0, maxConcurrent: 2.0}\nsettings: {parallelism: 3.0, maxFailures: 1e0, qps: {alibaba.kafka/UpgradeInstanceVersion: 1e-300}}\n",
		header + "  - {name: m, kind: alibaba.mongodb, region: cn-hangzhou, select: {tags: {}}, desired: {kernelVersion: latest}}\nsettings: {parallelism: 1e20, stepTimeout: 1ns}\n",
		header + computeNest + "        InstancePassword: hunter2secret\n        Token: {fromEnv: ALIBABA_CLOUD_ACCESS_KEY_SECRET}\n",
		header + mongo + "junk: [\"a # b\", 'it''s', x, - , ? , {a, b}]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		fleet, err := Parse("fuzz.yaml", data)
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Fatalf("Parse took %v on %d bytes", elapsed, len(data))
		}
		if err == nil {
			if fleet == nil || len(fleet.Targets) == 0 || fleet.APIVersion != "upgradeplan/v1" {
				t.Fatalf("a valid parse returned %+v", fleet)
			}
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("error %T %v is not a non-empty Problems", err, err)
		}
		if fleet != nil {
			t.Fatal("a fleet came back with problems")
		}
		for i, p := range ps {
			if p.File != "fuzz.yaml" || p.Line < 1 || p.Col < 1 || p.Message == "" {
				t.Fatalf("problem %d is not positioned: %+v", i, p)
			}
			if i > 0 && (ps[i-1].Line > p.Line || ps[i-1].Line == p.Line && ps[i-1].Col > p.Col) {
				t.Fatalf("problems out of order: %v before %v", ps[i-1], p)
			}
		}
	})
}

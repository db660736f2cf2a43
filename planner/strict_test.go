package planner

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func goldenPlan(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "golden", "fleet.plan.json.golden"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestThePlanReaderIsStrict(t *testing.T) {
	data := goldenPlan(t)
	if _, err := Decode(bytes.NewReader(data)); err != nil {
		t.Fatalf("the golden plan: %v", err)
	}
	tests := []struct {
		name, want string
		edit       func([]byte) []byte
	}{
		{"a key in another case, read by jq one way and encoding/json another",
			`line 502, column 10: "Steps": plan files spell this key "steps", in that case`,
			func(b []byte) []byte {
				return bytes.Replace(b, []byte("\n}\n"), []byte(",\n  \"Steps\": []\n}\n"), 1)
			}},
		{"a key twice", `"digest": the key appears twice`,
			func(b []byte) []byte {
				return bytes.Replace(b, []byte(`"format_version": 1,`), []byte(`"format_version": 1, "digest": "x",`), 1)
			}},
		{"a case-variant key inside a step", `"Action": plan files spell this key "action"`,
			func(b []byte) []byte { return bytes.Replace(b, []byte(`"action"`), []byte(`"Action"`), 1) }},
		{"two concatenated plans", "data after the plan's closing brace",
			func(b []byte) []byte { return append(append([]byte{}, b...), b...) }},
		{"trailing garbage", "data after the plan's closing brace",
			func(b []byte) []byte { return append(append([]byte{}, b...), "x"...) }},
		{"a duplicate parameter", `"InstanceId": the key appears twice`,
			func(b []byte) []byte {
				return bytes.Replace(b, []byte(`"InstanceId": "`), []byte(`"InstanceId": "x", "InstanceId": "`), 1)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tt.edit(data)))
			if !errors.Is(err, ErrNotStrict) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode = %v; want ErrNotStrict saying %q", err, tt.want)
			}
		})
	}
}

// The strict reader runs on every plan apply and show read (a plan of 60,000 steps is
// some 50 MB): it scans the bytes without allocating per value. encoding/json's token
// reader allocated 4,504 times on the golden plan and took longer than the decoding
// itself (2.2 s of apply's start at 100,000 instances).
func TestTheStrictReaderAllocatesNothingPerValue(t *testing.T) {
	data := goldenPlan(t)
	if n := testing.AllocsPerRun(5, func() {
		if err := checkStrict(data); err != nil {
			t.Fatal(err)
		}
	}); n > 16 {
		t.Fatalf("checkStrict allocated %.0f times on the golden plan (%d bytes); want at most 16", n, len(data))
	}
}

// A key is compared as JSON reads it: an escaped spelling of a key already there is the
// same key twice.
func TestTheStrictReaderReadsEscapedKeys(t *testing.T) {
	data := bytes.Replace(goldenPlan(t), []byte(`"format_version": 1,`), []byte(`"format_version": 1, "\u0064igest": "x",`), 1)
	_, err := Decode(bytes.NewReader(data))
	if !errors.Is(err, ErrNotStrict) || !strings.Contains(err.Error(), `"digest": the key appears twice`) {
		t.Fatalf("Decode = %v; want ErrNotStrict naming the twice-written digest", err)
	}
}

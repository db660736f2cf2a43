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

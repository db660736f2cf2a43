package jsonappend

import (
	"encoding/json"
	"testing"
)

type named map[string]any

// Every value gives json.Marshal's bytes, the fast kinds and those handed over alike.
func TestValuesHaveJSONMarshalsBytes(t *testing.T) {
	values := []any{nil, "", "plain", "é", "a\xffb", "tab\t", `"\`, "<&>", "\u2028", true, false, 0, -7, int64(1) << 62,
		int32(-3), uint64(1) << 63, 1.5, 1e21, 0.000001, []any{1, "x"}, []string{"a"}, map[string]any{"b": 1, "a": nil},
		named{"z": "y", "<": 1}, struct{ A int }{1}}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Value(nil, v); err != nil || string(got) != string(want) {
			t.Errorf("Value(%#v) = %s, %v; json.Marshal %s", v, got, err, want)
		}
	}
	m := map[string]any{"k": "v", "&": 2, "a": []any{}, "n": nil}
	want, _ := json.Marshal(m)
	if got, err := Map(nil, m); err != nil || string(got) != string(want) {
		t.Errorf("Map = %s, %v; json.Marshal %s", got, err, want)
	}
	if got, _ := Map(nil, map[string]any(nil)); string(got) != "null" {
		t.Errorf("a nil map is %s, want null", got)
	}
	ss := []string{"a", "<b>", ""}
	want, _ = json.Marshal(ss)
	if got := Strings(nil, ss); string(got) != string(want) {
		t.Errorf("Strings = %s; json.Marshal %s", got, want)
	}
}

package jsonindent

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Append writes what json.Indent writes for anything json.Marshal produces:
// strings holding JSON's own punctuation and escapes, empty and nested containers.
func TestAppendIsJSONIndent(t *testing.T) {
	for _, v := range []any{
		map[string]any{"a": "x,y:{z}[]", "b": `q"u\o"te\`, "c": []any{}, "d": map[string]any{}, "e": []any{1, []any{map[string]any{"f": nil}}}},
		[]any{"\\", "\"", "]", "}", true, 1.5, map[string]any{"": ""}},
		"a string", 12, nil, []any{}, map[string]any{},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := json.Indent(&want, b, "    ", "  "); err != nil {
			t.Fatal(err)
		}
		if got := Append([]byte("x"), b, "    ", "  "); string(got) != "x"+want.String() {
			t.Errorf("Append(%s):\ngot  %q\nwant %q", b, got[1:], want.String())
		}
	}
}

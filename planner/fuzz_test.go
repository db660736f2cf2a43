package planner

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecode feeds Decode arbitrary bytes: a plan file is read by `show` and `apply` from
// wherever a reviewer left it, so a damaged or hostile file must be refused with an error,
// never a panic. What Decode accepts is a plan whose digest matches its content, and it
// survives a round trip: encoded again, it decodes again to the same digest. The seeds are
// the golden plans and damaged variants of them; they run in every go test, and
// `go test ./planner -fuzz FuzzDecode` explores from them.
func FuzzDecode(f *testing.F) {
	goldens, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.plan.json.golden"))
	if len(goldens) == 0 {
		f.Fatal("no golden plan to seed the corpus with")
	}
	for _, file := range goldens {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2]) // truncated
		f.Add(bytes.Replace(data, []byte(`"format_version": 1`), []byte(`"format_version": 2`), 1))
		f.Add(bytes.Replace(data, []byte(`"steps": [`), []byte(`"steps": null, "x": [`), 1))
		f.Add(bytes.Replace(data, []byte(`"poll_interval": "15s"`), []byte(`"poll_interval": 15`), 1))
		f.Add(bytes.Replace(data, []byte(`"wave": 0`), []byte(`"wave": 1e400`), 1))
		f.Add(append(append([]byte{}, data...), data...)) // two documents
		// issue 13: case-variant and duplicate keys, trailing data
		f.Add(bytes.Replace(data, []byte("\n}\n"), []byte(",\n  \"Steps\": []\n}\n"), 1))
		f.Add(bytes.Replace(data, []byte(`"action"`), []byte(`"ACTION"`), 1))
		f.Add(bytes.Replace(data, []byte(`"format_version": 1,`), []byte(`"format_version": 1, "format_version": 1,`), 1))
		f.Add(append(append([]byte{}, data...), " x"...))
	}
	for _, seed := range []string{
		"", "null", "{}", "[]", `"plan"`, "{", `{"format_version":1}`,
		`{"format_version":1,"digest":""}`,
		`{"format_version":1,"settings":{"poll_interval":"-9223372036854775808ns"}}`,
		`{"format_version":1,"steps":[{"params":{"a":{"fromEnv":null}},"from":{"x":[1,{"y":2}]}}]}`,
		`{"format_version":1,"accounts":{"a":{"cloud":"alibaba","accessKeyId":{"fromEnv":"AK"}}}}`,
		`{"format_version":1,"steps":[null,null]}`,
		`{"format_version":1,"targets":[{"select":{"tags":null,"ids":[null]}}]}`,
		"\xef\xbb\xbf{}",
		strings.Repeat("[", 10000),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(bytes.NewReader(data))
		switch {
		case err == nil:
			if p == nil {
				t.Fatal("Decode accepted the input but returned no plan")
			}
			if want, err := ComputeDigest(p); err != nil || p.Digest != want {
				t.Fatalf("Decode accepted digest %s for content hashing to %s (%v)", p.Digest, want, err)
			}
		case errors.Is(err, ErrNotStrict):
			if p != nil {
				t.Fatal("a plan file that is not strict must not be returned")
			}
			return
		case errors.Is(err, ErrDigestMismatch), errors.Is(err, ErrFormatVersion):
			if p == nil {
				t.Fatalf("a refusal (%v) must still return the plan it read, for the message", err)
			}
			if errors.Is(err, ErrFormatVersion) {
				return
			}
			// Well-formed but edited: random bytes almost never carry their own digest, so
			// the round trip below is checked on the edited plan, re-digested by Encode.
		default:
			return
		}
		var buf bytes.Buffer
		if err := Encode(&buf, p); err != nil {
			t.Fatalf("a decoded plan cannot be written back: %v", err)
		}
		again, err := Decode(&buf)
		if err != nil {
			t.Fatalf("a decoded plan, written back, is refused: %v\n%s", err, buf.Bytes())
		}
		if again.Digest != p.Digest {
			t.Fatalf("round trip changed the digest: %s, then %s", p.Digest, again.Digest)
		}
	})
}

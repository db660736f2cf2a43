package planner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// oneShot is how plans were encoded before encodePlan streamed them: the digest over
// json.Marshal with Digest cleared, the file json.MarshalIndent and a newline. Plans
// written by earlier builds must keep their digests, and their bytes.
func oneShot(t *testing.T, p *Plan) (digest string, file []byte) {
	t.Helper()
	c := *p
	c.Digest = ""
	b, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	c.Digest = hex.EncodeToString(sum[:])
	ind, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return c.Digest, append(ind, '\n')
}

func TestStreamedPlanHasTheBytesAndDigestOfTheWholeDocumentEncoding(t *testing.T) {
	cloud, fleet := demoFleet()
	built, err := Build(t.Context(), fleet, cloud.registry(), Options{ToolVersion: "v1",
		Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	big := *built
	big.Steps = nil
	for i := range 300 {
		s := built.Steps[i%len(built.Steps)]
		s.ID = fmt.Sprintf("%s-%03d <&>", s.ID, i) // escaped as \u003c, \u0026, \u003e by both
		s.Params = map[string]any{"z": i, "a": []any{}, "m": map[string]any{}, "n": nil, "s": "é\u2028"}
		switch i % 4 {
		case 1: // every kind of value a provider may plan, and strings json.Marshal escapes
			s.Params = map[string]any{"i64": int64(-7), "i32": int32(3), "u": uint64(1 << 63), "f": 1.5e21, "f0": 0.000001, "b": true,
				"list": []any{map[string]any{"NodeType": 1, "ZoneId": 100004}}, "bad": "a\xffb", "ctl": "tab\there", "q": `"\`,
				"named": provider.Values{"x": "y"}, "ints": []int{1, 2}, "<k>": "v&"}
			s.From, s.To = provider.Values{"memSizeMB": int64(4096), "v": "1.0"}, provider.Values{}
			s.Account, s.Notes, s.DependsOn = "acct&", []string{"a note <b>", ""}, []string{"x#1"}
		case 2:
			s.Params, s.From, s.To, s.DependsOn, s.Notes = nil, nil, nil, []string{}, []string{}
		}
		big.Steps = append(big.Steps, s)
	}
	plans := map[string]*Plan{
		"built":           built,
		"many steps":      &big,
		"no steps":        {FormatVersion: 1, Targets: []Target{{Name: "t", Instances: []string{}}}, Steps: []Step{}},
		"nil slices":      {FormatVersion: 1},
		"accounts":        {FormatVersion: 1, Accounts: map[string]provider.Account{"a": {Name: "a", Cloud: "alibaba"}}, Targets: []Target{}, Steps: []Step{}},
		"digest set":      {FormatVersion: 1, Digest: "stale", Targets: []Target{}, Steps: []Step{}},
		"settings filled": {FormatVersion: 1, Settings: Settings{Parallelism: 3, QPS: map[string]float64{"k/A": 1.5}, Window: &Window{}}},
	}
	for name, p := range plans {
		t.Run(name, func(t *testing.T) {
			wantDigest, wantFile := oneShot(t, p)
			if d, err := ComputeDigest(p); err != nil || d != wantDigest {
				t.Errorf("ComputeDigest = %s, %v; the whole-document encoding hashes to %s", d, err, wantDigest)
			}
			q := *p
			var buf bytes.Buffer
			if err := Encode(&buf, &q); err != nil {
				t.Fatal(err)
			}
			if q.Digest != wantDigest {
				t.Errorf("Encode set the digest %s, want %s", q.Digest, wantDigest)
			}
			if !bytes.Equal(buf.Bytes(), wantFile) {
				got, want := buf.String(), string(wantFile)
				i := 0
				for i < len(got) && i < len(want) && got[i] == want[i] {
					i++
				}
				t.Errorf("the streamed file differs from json.MarshalIndent at byte %d:\ngot  %q\nwant %q", i, got[max(0, i-40):min(len(got), i+40)], want[max(0, i-40):min(len(want), i+40)])
			}
		})
	}
}

// BenchmarkEncodePlan writes a 10,000-step plan file (plan's last work, 0.7 s at 100,000
// instances before the indenter of its own).
func BenchmarkEncodePlan(b *testing.B) {
	p := fleetPlan(b, 10_000)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := Encode(&buf, p); err != nil {
			b.Fatal(err)
		}
	}
}

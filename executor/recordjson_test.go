package executor

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/internal/jsonindent"
	"github.com/upgradeplan/upgradeplan/provider"
)

// The hand-written encoder gives the journal and run.json exactly encoding/json's bytes, for
// records with every field set or empty, strings that need escaping and values of any type.
func TestStepRecordsEncodeAsEncodingJSONDoes(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "a", "kafka/alikafka-01/3.0", "<b>&\"q\"\\", "tab\there", "é ünï", "line\u2028sep", "\x01", string([]byte{0xff, 'x'})}
	str := func() string { return strs[rnd.IntN(len(strs))] }
	vals := []any{"2.8", true, false, 3, int64(-7), 1.5, 2.0, 1e-7, 1e21, 123456789.0, nil, []any{"x", 1.0}, map[string]any{"k": "v"}, "<&>"}
	values := func() provider.Values {
		switch rnd.IntN(4) {
		case 0:
			return nil
		case 1:
			return provider.Values{}
		}
		v := provider.Values{}
		for range 1 + rnd.IntN(10) {
			v[str()+string(rune('a'+rnd.IntN(26)))] = vals[rnd.IntN(len(vals))]
		}
		return v
	}
	strings := func() []string {
		if rnd.IntN(3) == 0 {
			return nil
		}
		out := make([]string, rnd.IntN(3))
		for i := range out {
			out[i] = str()
		}
		return out
	}
	at := func() *time.Time {
		if rnd.IntN(3) == 0 {
			return nil
		}
		t := time.Date(2026, 12, 1, 22, 30, rnd.IntN(60), rnd.IntN(1e9), time.UTC)
		if rnd.IntN(2) == 0 {
			t = t.In(time.FixedZone("x", 3600*rnd.IntN(5)))
		}
		return &t
	}
	for i := range 3000 {
		c := StepRecord{ID: str(), Target: str(), Kind: str(), Region: str(), Account: str(), Instance: str(), Action: str(),
			Wave: rnd.IntN(5) - 1, DependsOn: strings(), Notes: strings(), Status: Status(str()), State: Phase(str()), Reason: str(),
			From: values(), To: values(), Before: values(), After: values(), Attempts: rnd.IntN(3), RequestIDs: strings(),
			OrderID: str(), OrderName: str(), ClientToken: str(), StartedAt: at(), FinishedAt: at()}
		switch rnd.IntN(4) {
		case 1:
			c.DurationSeconds = rnd.Float64() * 1000
		case 2:
			c.DurationSeconds = 1e-9 * rnd.Float64()
		case 3:
			c.DurationSeconds = float64(rnd.IntN(100))
		}
		if rnd.IntN(2) == 0 {
			c.Error = &StepError{Code: str(), Class: provider.Class(str()), Message: str(), RequestID: str()}
		}
		want, err := json.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendStepRecord(nil, &c); !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got %s\nwant %s", i, got, want)
		}
		var want2 bytes.Buffer
		json.Indent(&want2, want, "    ", "  ")
		if got := jsonindent.Append(nil, want, "    ", "  "); !bytes.Equal(got, want2.Bytes()) {
			t.Fatalf("record %d indented:\n got %s\nwant %s", i, got, want2.Bytes())
		}
		e := Entry{Time: time.Date(2026, 12, 1, 0, 0, i, 0, time.UTC), Type: str(), StepID: c.ID}
		switch i % 4 {
		case 0:
			e.Step = &c
		case 1: // an intent
			e.Attempt, e.ClientToken, e.Params = rnd.IntN(3), str(), values()
		case 2: // a result
			e.RequestID, e.OrderID, e.OrderName, e.Class, e.Error, e.Observed = str(), str(), str(), provider.Class(str()), c.Error, values()
		case 3: // begin or end
			e.Digest, e.PID, e.Host, e.Resumed, e.DryRun, e.Stop = str(), rnd.IntN(3), str(), rnd.IntN(2) == 0, rnd.IntN(2) == 0, str()
		}
		want, _ = json.Marshal(e)
		if got, _ := appendEntry(nil, e); !bytes.Equal(got, want) {
			t.Fatalf("entry %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

package executor

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// run.json is written a step at a time; readers must get the very document MarshalIndent
// gives, for no steps, one and several.
func TestWriteRecordStreamsTheSameDocument(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 3} {
		rec := &Record{Schema: RecordSchema, Counts: map[Status]int{StatusNoop: 2}, StartedAt: time.Unix(5, 0).UTC()}
		if n >= 0 {
			rec.Steps = []StepRecord{}
		}
		for i := 0; i < n; i++ {
			rec.Steps = append(rec.Steps, StepRecord{ID: "s", Status: StatusNoop, RequestIDs: []string{"a"}})
		}
		dir := t.TempDir()
		if err := WriteRecord(dir, rec); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(dir, RecordFile))
		want, _ := json.MarshalIndent(rec, "", "  ")
		if want = append(want, '\n'); !bytes.Equal(got, want) {
			t.Fatalf("%d steps: wrote\n%s\nwant\n%s", n, got, want)
		}
	}
}

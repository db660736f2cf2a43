package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/upgradeplan/upgradeplan/executor"
)

// wholeRecord is run.json as one Encode of the whole record writes it.
func wholeRecord(t *testing.T, rec *executor.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rec); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// run.json written a step at a time has the bytes of the whole-record encoding: HTML
// characters readable, empty and absent steps as before.
func TestRunJSONStreamedIsTheWholeRecordEncoding(t *testing.T) {
	for name, rec := range map[string]*executor.Record{
		"steps":    bigRecord(40), // errors with <Upgrading>, reasons, request ids
		"no steps": {Schema: executor.RecordSchema, Steps: []executor.StepRecord{}},
		"nil":      {Schema: executor.RecordSchema},
	} {
		var got bytes.Buffer
		if err := JSON(&got, rec); err != nil {
			t.Fatal(err)
		}
		if want := wholeRecord(t, rec); !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s: run.json differs from the whole-record encoding:\ngot  %.300q\nwant %.300q", name, got.Bytes(), want)
		}
	}
}

// run.json is streamed: a record of 10,000 steps is never held as one document. Encoded
// whole, indented, then copied, it allocated 8.3 times its size (at 100,000 steps some
// 300 MB at the end of the run, the peak of apply's RSS); a step at a time, 0.36 times.
func TestRunJSONIsNotHeldWhole(t *testing.T) {
	rec := bigRecord(10_000)
	dir := t.TempDir()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	if err := JSON(discard{}, rec); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms)
	alloc := ms.TotalAlloc - before
	if err := WriteAll(dir, rec); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, RunFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run.json %d bytes; encoding it allocated %d bytes (%.2f× its size)", st.Size(), alloc, float64(alloc)/float64(st.Size()))
	// Three times its size: room for -race (1.65×) and the package's other tests, far
	// under what encoding the whole record takes.
	if alloc > 3*uint64(st.Size()) {
		t.Fatalf("encoding run.json (%d bytes) allocated %d bytes; want less than three times its size", st.Size(), alloc)
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

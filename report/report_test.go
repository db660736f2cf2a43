package report

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./report -update rewrites it); got:\n%s", path, got)
	}
}

func readFixture(t *testing.T, name string) *executor.Record {
	t.Helper()
	rec, err := ReadRecord(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func render(t *testing.T, f func(*bytes.Buffer, *executor.Record) error, rec *executor.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f(&buf, rec); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func markdownOf(t *testing.T, rec *executor.Record) []byte {
	return render(t, func(b *bytes.Buffer, r *executor.Record) error { return Markdown(b, r) }, rec)
}

func junitOf(t *testing.T, rec *executor.Record) []byte {
	return render(t, func(b *bytes.Buffer, r *executor.Record) error { return JUnit(b, r) }, rec)
}

func jsonOf(t *testing.T, rec *executor.Record) []byte {
	return render(t, func(b *bytes.Buffer, r *executor.Record) error { return JSON(b, r) }, rec)
}

func TestReportsMatchGoldenFiles(t *testing.T) {
	for _, fixture := range []string{"run-rich", "run-succeeded"} {
		t.Run(fixture, func(t *testing.T) {
			rec := readFixture(t, fixture+".json")
			golden(t, fixture+".md.golden", markdownOf(t, rec))
			golden(t, fixture+".junit.xml.golden", junitOf(t, rec))
		})
	}
}

func TestRichMarkdownParsesAsGitHubTables(t *testing.T) {
	md := string(markdownOf(t, readFixture(t, "run-rich.json")))
	tables, html := gfmTables(t, md)
	requireRectangular(t, tables, md)
	// counts, failures, four targets, segments, API calls, durations
	if len(tables) != 9 {
		t.Fatalf("want 9 tables, the parser found %d", len(tables))
	}
	failures := tables[1]
	if got := failures.Header[0]; got != "instance" || len(failures.Rows) != 2 {
		t.Fatalf("the failures table should come right after the counts, with 2 rows: %+v", failures)
	}
	msg := failures.Rows[0][4]
	for _, want := range []string{"instance &lt;alikafka-demo-2&gt;", "&amp; can't | be `changed`", "<br>see console"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure message cell %q does not show %q", msg, want)
		}
	}
	if strings.Contains(html, "<alikafka-demo-2>") || strings.ContainsAny(md, "\a\x1b\x00") {
		t.Error("a message's markup or control characters reached the page")
	}
	if failures.Rows[0][5] != "<code>7B2F-FAIL-0003</code>" {
		t.Errorf("request id cell = %q", failures.Rows[0][5])
	}
}

func TestOutcomeLineSaysWhatHappened(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		want    string
	}{
		{"a failed run counts failures and the steps the window left", "run-rich.json",
			"**FAILED** — 2 of 12 steps failed, 2 skipped, 1 drifted, 1 cancelled; window closed with 1 not started"},
		{"a clean run counts what changed and what was already done", "run-succeeded.json",
			"**SUCCEEDED** — 4 of 5 steps succeeded, 1 already done"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lines := strings.Split(string(markdownOf(t, readFixture(t, tc.fixture))), "\n")
			if len(lines) < 3 || !strings.HasPrefix(lines[2], tc.want) {
				t.Errorf("outcome line = %q, want it to start with %q", lines[2], tc.want)
			}
		})
	}
}

func TestRunJSONRoundTripsByteForByte(t *testing.T) {
	first := jsonOf(t, readFixture(t, "run-rich.json"))
	rec, err := DecodeRecord(bytes.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	if second := jsonOf(t, rec); !bytes.Equal(first, second) {
		t.Errorf("run.json changed on a read and write:\n%s\n---\n%s", first, second)
	}
	if !bytes.Contains(first, []byte(`"message": "instance <alikafka-demo-2> is \"Upgrading\" & can't`)) {
		t.Error("run.json should keep <, > and & readable for auditors")
	}
}

func TestReadRecordRefusesWhatItCannotRead(t *testing.T) {
	tests := []struct {
		name, content string
		schemaError   bool
	}{
		{"a newer schema is refused", `{"schema": "upgradeplan.run/v2", "steps": []}`, true},
		{"a file without a schema is refused", `{"steps": []}`, true},
		{"a plan file is not a run record", `{"format_version": 1, "steps": []}`, true},
		{"broken JSON is an error", `{"schema": `, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "run.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadRecord(path)
			if err == nil {
				t.Fatal("ReadRecord accepted it")
			}
			if got := errors.Is(err, ErrRecordSchema); got != tc.schemaError {
				t.Errorf("errors.Is(ErrRecordSchema) = %v for %v", got, err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("the error does not name the file: %v", err)
			}
		})
	}
}

// A run.json cut short by a lost write, or with data after the record, is not rendered as
// if it were the run: the error says the file is incomplete or corrupt, names it, and
// points at the journal beside it, which has the run's history.
func TestReadRecordRefusesAnIncompleteOrCorruptRunJSON(t *testing.T) {
	whole := jsonOf(t, readFixture(t, "run-rich.json"))
	for name, content := range map[string][]byte{
		"cut in half":       whole[:len(whole)/2],
		"empty":             nil,
		"data after it":     append(bytes.Clone(whole), `{"schema": "upgradeplan.run/v1"}`...),
		"junk appended":     append(bytes.Clone(whole), "\x00\x00garbage"...),
		"broken in between": bytes.Replace(whole, []byte(`"steps": [`), []byte(`"steps": [}`), 1),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, RunFile)
			journal := filepath.Join(dir, executor.JournalFile)
			os.WriteFile(path, content, 0o644)
			os.WriteFile(journal, []byte("{}\n"), 0o644)
			_, err := ReadRecord(path)
			if !errors.Is(err, ErrRecordCorrupt) {
				t.Fatalf("ReadRecord: %v, want ErrRecordCorrupt", err)
			}
			for _, want := range []string{path + " is incomplete or corrupt", journal + " beside it has the run's history"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestWriteAllWritesReportsThatRegenerateFromRunJSON(t *testing.T) {
	dir := t.TempDir()
	rec := readFixture(t, "run-rich.json")
	if err := WriteAll(dir, rec); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, dir); names != "junit.xml report.md run.json" {
		t.Fatalf("run directory holds %v, want exactly junit.xml report.md run.json (no temporary files)", names)
	}
	back, err := ReadRecord(filepath.Join(dir, RunFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, again := range map[string][]byte{MarkdownFile: markdownOf(t, back), JUnitFile: junitOf(t, back)} {
		written, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(written, again) {
			t.Errorf("%s rendered from run.json differs from the one apply wrote", name)
		}
	}
}

// An apply killed while writing its reports leaves temporary files; the next WriteAll of
// that run directory removes them, leaving exactly the reports.
func TestWriteAllRemovesTheTemporaryFilesOfAKilledWrite(t *testing.T) {
	dir := t.TempDir()
	killed := time.Now().Add(-time.Hour)
	for _, name := range []string{".report.md.tmp-1", ".junit.xml.tmp-2", ".run.json.tmp-3"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("half a report"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(path, killed, killed)
	}
	if err := WriteAll(dir, readFixture(t, "run-succeeded.json")); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, dir); names != "junit.xml report.md run.json" {
		t.Errorf("run directory holds %v, want exactly junit.xml report.md run.json", names)
	}
}

// dirNames is what dir holds, the names in order, separated by spaces.
func dirNames(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

func TestWriteAllReportsAnUnwritableDirectory(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	err := WriteAll(missing, readFixture(t, "run-succeeded.json"))
	if err == nil || !strings.Contains(err.Error(), "report.md") {
		t.Errorf("WriteAll into a missing directory: %v, want an error naming report.md", err)
	}
}

func TestAStepsChangeNamesOnlyTheFieldsThatChange(t *testing.T) {
	tests := []struct {
		name     string
		from, to provider.Values
		want     string
	}{
		{
			name: "a Redis call that repeats its other two dimensions shows only the one it changes",
			from: provider.Values{"memSizeMB": 4096, "shards": 2, "replicas": 2},
			to:   provider.Values{"memSizeMB": 8192, "shards": 2, "replicas": 2},
			want: "memSizeMB 4096 → 8192",
		},
		{
			name: "several changed fields are listed in order",
			from: provider.Values{"maxPrivateTps": 3000, "queueCapacity": 1000},
			to:   provider.Values{"maxPrivateTps": 5000, "queueCapacity": 2000},
			want: "maxPrivateTps 3000 → 5000, queueCapacity 1000 → 2000",
		},
		{
			name: "a step whose to equals its from (Kafka latestMinor) still says what it targets",
			from: provider.Values{"version": "2.2.0"},
			to:   provider.Values{"version": "2.2.0"},
			want: "version 2.2.0 → 2.2.0",
		},
		{
			name: "a field the refresh did not see is shown as a target only",
			from: provider.Values{},
			to:   provider.Values{"serviceVersion": "3"},
			want: "serviceVersion → 3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := changeText(tt.from, tt.to); got != tt.want {
				t.Errorf("changeText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAMovedWindowIsShownForItsSegment(t *testing.T) {
	rec := readFixture(t, "run-rich.json")
	if len(rec.Segments) == 0 {
		t.Fatal("the rich fixture has no segments")
	}
	last := &rec.Segments[len(rec.Segments)-1]
	last.Window = &planner.Window{
		Start:  time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC),
		End:    time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC),
		Cutoff: planner.Duration(30 * time.Minute),
	}
	var b bytes.Buffer
	if err := Markdown(&b, rec); err != nil {
		t.Fatal(err)
	}
	want := "window moved to 2026-11-29T01:00:00Z – 2026-11-29T05:00:00Z (cutoff 30m0s)"
	if !strings.Contains(b.String(), want) {
		t.Errorf("report.md does not say the operator moved the window (%q):\n%s", want, b.String())
	}
}

package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/provider"
)

// nastyMessage is what a cloud may put in an error: markup, quotes, every control
// character, a CDATA terminator, noncharacters and a broken UTF-8 sequence.
func nastyMessage() string {
	var b strings.Builder
	b.WriteString(`<Error code="x"> & 'quoted' "double" ]]> `)
	for r := rune(0); r < 0x20; r++ {
		b.WriteRune(r)
	}
	b.WriteString("\x7f\u0085\uFFFE\uFFFF \xff\xfe end")
	return b.String()
}

// statusRecord is a one-target run with one step in each given status.
func statusRecord(statuses ...executor.Status) *executor.Record {
	start := time.Date(2026, 3, 14, 2, 0, 0, 0, time.UTC)
	rec := &executor.Record{
		Schema:     executor.RecordSchema,
		Plan:       executor.PlanRef{Name: "statuses", Digest: "abc123"},
		StartedAt:  start,
		FinishedAt: start.Add(90 * time.Second),
		Outcome:    executor.Outcome{Result: "failed", ExitCode: 2},
	}
	for i, st := range statuses {
		s := executor.StepRecord{
			ID: fmt.Sprintf("kafka-hz/alikafka-%d", i), Target: "kafka-hz", Kind: "alibaba.kafka",
			Region: "cn-hangzhou", Instance: fmt.Sprintf("alikafka-%d", i), Action: "UpgradeInstanceVersion",
			Status: st, From: provider.Values{"version": "0.10.2"}, To: provider.Values{"version": "2.2.0"},
			DurationSeconds: 1e-7 * float64(i+1), // tiny: %g would write an exponent
		}
		switch st {
		case executor.StatusFailed:
			s.Attempts = 1
			s.RequestIDs = []string{"req-" + nastyMessage()}
			s.Error = &executor.StepError{Code: "Instance.StatusError", Class: provider.ClassPermanent, Message: nastyMessage(), RequestID: "req-9"}
		case executor.StatusSucceeded, executor.StatusNoop:
		default:
			s.Reason = "because " + nastyMessage()
		}
		rec.Steps = append(rec.Steps, s)
	}
	return rec
}

var allStatuses = []executor.Status{
	executor.StatusSucceeded, executor.StatusFailed, executor.StatusSkipped, executor.StatusNoop,
	executor.StatusDrifted, executor.StatusNotStarted, executor.StatusCancelled,
	executor.StatusPending, executor.StatusRunning,
}

func TestJUnitIsValidAgainstTheSchema(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not found; install libxml2-utils (CI does) to validate junit.xml against testdata/junit.xsd")
	}
	tests := []struct {
		name string
		rec  *executor.Record
	}{
		{"a run with every step status and hostile messages", statusRecord(allStatuses...)},
		{"a hand-written run with a window, throttles and resumes", readFixture(t, "run-rich.json")},
		{"a clean dry run", readFixture(t, "run-succeeded.json")},
		{"a run with no steps", statusRecord()},
		{"a run of ten thousand steps", bigRecord(10000)},
	}
	for _, st := range allStatuses {
		tests = append(tests, struct {
			name string
			rec  *executor.Record
		}{"a run whose only step is " + string(st), statusRecord(st)})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "junit.xml")
			if err := os.WriteFile(path, junitOf(t, tc.rec), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "junit.xsd"), path).CombinedOutput()
			if err != nil {
				t.Errorf("xmllint rejects junit.xml: %v\n%s", err, out)
			}
		})
	}
}

// junitDoc is what a CI server reads from junit.xml.
type junitDoc struct {
	Time   string `xml:"time,attr"`
	Suites []struct {
		Name    string `xml:"name,attr"`
		Time    string `xml:"time,attr"`
		Tests   int    `xml:"tests,attr"`
		Fail    int    `xml:"failures,attr"`
		Skipped int    `xml:"skipped,attr"`
		Props   []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Type    string `xml:"type,attr"`
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct {
				Type    string `xml:"type,attr"`
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func parseJUnit(t *testing.T, b []byte) junitDoc {
	t.Helper()
	var d junitDoc
	if err := xml.Unmarshal(b, &d); err != nil {
		t.Fatalf("junit.xml does not parse: %v", err)
	}
	return d
}

func TestJUnitMarksEachStatusAsCIExpects(t *testing.T) {
	tests := []struct {
		status        executor.Status
		failed, skips bool
	}{
		{executor.StatusSucceeded, false, false},
		{executor.StatusNoop, false, false},
		{executor.StatusFailed, true, false},
		{executor.StatusSkipped, false, true},
		{executor.StatusDrifted, false, true},
		{executor.StatusNotStarted, false, true},
		{executor.StatusCancelled, false, true},
	}
	for _, tc := range tests {
		t.Run("a "+string(tc.status)+" step", func(t *testing.T) {
			d := parseJUnit(t, junitOf(t, statusRecord(tc.status)))
			c := d.Suites[0].Cases[0]
			if (c.Failure != nil) != tc.failed || (c.Skipped != nil) != tc.skips {
				t.Fatalf("failure=%v skipped=%v, want failure=%v skipped=%v", c.Failure != nil, c.Skipped != nil, tc.failed, tc.skips)
			}
			if c.Name != "alikafka-0 version 0.10.2 → 2.2.0" || c.Classname != "kafka-hz" {
				t.Errorf("testcase %q classname %q", c.Name, c.Classname)
			}
			if c.Failure != nil {
				if c.Failure.Type != "Instance.StatusError" || !strings.Contains(c.Failure.Text, "request id: req-9") {
					t.Errorf("failure type %q text %q: want the error code and the request id", c.Failure.Type, c.Failure.Text)
				}
				if !strings.HasPrefix(c.Failure.Message, `<Error code="x"> & 'quoted' "double" ]]> `+"\t\n\r") {
					t.Errorf("the message lost its text: %q", c.Failure.Message)
				}
			}
			if c.Skipped != nil && (c.Skipped.Type != string(tc.status) || !strings.HasPrefix(c.Skipped.Message, "because <Error")) {
				t.Errorf("skipped type %q message %q: want the status and the reason", c.Skipped.Type, c.Skipped.Message)
			}
		})
	}
}

func TestJUnitTimesArePlainDecimals(t *testing.T) {
	out := junitOf(t, statusRecord(allStatuses...))
	if bytes.Contains(out, []byte("e-")) || bytes.Contains(out, []byte("E-")) {
		t.Errorf("a time has an exponent:\n%s", out)
	}
	d := parseJUnit(t, out)
	if d.Time != "90.000" || d.Suites[0].Time != "0.000" || d.Suites[0].Cases[0].Time != "0.000" {
		t.Errorf("times: run %q suite %q case %q", d.Time, d.Suites[0].Time, d.Suites[0].Cases[0].Time)
	}
	rich := parseJUnit(t, junitOf(t, readFixture(t, "run-rich.json")))
	if got := rich.Suites[3].Cases[2].Time; got != "6.125" {
		t.Errorf("a 6.125 s step has time %q", got)
	}
}

func TestJUnitCarriesThePlanIdentityPerSuite(t *testing.T) {
	d := parseJUnit(t, junitOf(t, readFixture(t, "run-rich.json")))
	if len(d.Suites) != 4 {
		t.Fatalf("want one suite per target (4), got %d", len(d.Suites))
	}
	for _, s := range d.Suites {
		props := map[string]string{}
		for _, p := range s.Props {
			props[p.Name] = p.Value
		}
		if props["plan.digest"] != "5f2c1e9a7b3d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60" || props["manifest.sha256"] == "" || props["kind"] == "" {
			t.Errorf("suite %s properties %v lack the plan digest, manifest hash or kind", s.Name, props)
		}
	}
	if s := d.Suites[3]; s.Name != "cache-sh" || s.Tests != 4 || s.Fail != 1 || s.Skipped != 1 {
		t.Errorf("cache-sh suite: %+v", s)
	}
}

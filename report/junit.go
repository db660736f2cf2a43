package report

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/upgradeplan/upgradeplan/executor"
)

// JUnit writes junit.xml: one testsuite per target, one testcase per step (classname the
// target, name the instance and its change), <failure> for a failed step and <skipped> for
// one that was skipped, drifted, not started or cancelled, with its reason. Times are plain
// decimals and characters XML 1.0 forbids are removed, so CI servers accept the file.
func JUnit(w io.Writer, rec *executor.Record) error {
	suites := junitSuites{Name: xmlText("upgradeplan " + rec.Plan.Name)}
	for _, g := range groupByTarget(rec.Steps) {
		suite := junitSuite{
			Name:      xmlText(g.Name),
			Package:   xmlText(g.Kind),
			Timestamp: startOf(g.Steps),
			Properties: []junitProperty{
				{"kind", xmlText(g.Kind)},
				{"region", xmlText(g.Region)},
			},
		}
		if g.Account != "" {
			suite.Properties = append(suite.Properties, junitProperty{"account", xmlText(g.Account)})
		}
		suite.Properties = append(suite.Properties, runProperties(rec)...)
		var secs float64
		for _, s := range g.Steps {
			c := junitCase{
				Name:      xmlText(instanceLabel(s) + " " + changeText(s.From, s.To)),
				Classname: xmlText(s.Target),
				Time:      decimalSeconds(s.DurationSeconds),
				SystemOut: xmlText(stepDetails(s)),
			}
			secs += max(s.DurationSeconds, 0)
			switch s.Status {
			case executor.StatusSucceeded, executor.StatusNoop:
			case executor.StatusFailed:
				suite.Failures++
				e := s.Error
				if e == nil {
					e = &executor.StepError{Message: s.Reason}
				}
				typ := e.Code
				if typ == "" {
					typ = string(e.Class)
				}
				c.Failure = &junitResult{
					Type:    xmlText(typ),
					Message: xmlText(e.Message),
					Text:    xmlText(failureText(s, e)),
				}
			default:
				// skipped, drifted, not-started, cancelled, and a step a crashed run left
				// pending or running: none of them passed or failed.
				suite.Skipped++
				reason := s.Reason
				if reason == "" {
					reason = string(s.Status)
				}
				c.Skipped = &junitResult{Type: xmlText(string(s.Status)), Message: xmlText(reason)}
			}
			suite.Tests++
			suite.Cases = append(suite.Cases, c)
		}
		suite.Time = decimalSeconds(secs)
		suites.Tests += suite.Tests
		suites.Failures += suite.Failures
		suites.Suites = append(suites.Suites, suite)
	}
	suites.Time = decimalSeconds(totalSeconds(rec, rec.Steps))

	var buf bytes.Buffer
	suites.write(&buf)
	_, err := w.Write(buf.Bytes())
	return err
}

// The JUnit elements, written by hand rather than with encoding/xml so that text keeps its
// line breaks (encoding/xml writes them as &#xA;) and empty elements close themselves.
type junitSuites struct {
	Name     string
	Tests    int
	Failures int
	Errors   int
	Time     string
	Suites   []junitSuite
}

type junitSuite struct {
	Name       string
	Tests      int
	Failures   int
	Errors     int
	Skipped    int
	Time       string
	Timestamp  string
	Package    string
	Properties []junitProperty
	Cases      []junitCase
}

type junitProperty struct {
	Name  string
	Value string
}

type junitCase struct {
	Name      string
	Classname string
	Time      string
	Failure   *junitResult
	Skipped   *junitResult
	SystemOut string
}

type junitResult struct {
	Type    string
	Message string
	Text    string
}

func (s junitSuites) write(b *bytes.Buffer) {
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(b, `<testsuites name="%s" tests="%d" failures="%d" errors="%d" time="%s">`+"\n",
		attr(s.Name), s.Tests, s.Failures, s.Errors, s.Time)
	for _, st := range s.Suites {
		fmt.Fprintf(b, `  <testsuite name="%s" tests="%d" failures="%d" errors="%d" skipped="%d" time="%s"`,
			attr(st.Name), st.Tests, st.Failures, st.Errors, st.Skipped, st.Time)
		if st.Timestamp != "" {
			fmt.Fprintf(b, ` timestamp="%s"`, attr(st.Timestamp))
		}
		if st.Package != "" {
			fmt.Fprintf(b, ` package="%s"`, attr(st.Package))
		}
		b.WriteString(">\n    <properties>\n")
		for _, p := range st.Properties {
			fmt.Fprintf(b, `      <property name="%s" value="%s"/>`+"\n", attr(p.Name), attr(p.Value))
		}
		b.WriteString("    </properties>\n")
		for _, c := range st.Cases {
			fmt.Fprintf(b, `    <testcase name="%s" classname="%s" time="%s">`+"\n", attr(c.Name), attr(c.Classname), c.Time)
			c.Failure.write(b, "failure")
			c.Skipped.write(b, "skipped")
			if c.SystemOut != "" {
				fmt.Fprintf(b, "      <system-out>%s</system-out>\n", chardata(c.SystemOut))
			}
			b.WriteString("    </testcase>\n")
		}
		b.WriteString("  </testsuite>\n")
	}
	b.WriteString("</testsuites>\n")
}

func (r *junitResult) write(b *bytes.Buffer, element string) {
	if r == nil {
		return
	}
	fmt.Fprintf(b, "      <%s", element)
	if r.Type != "" {
		fmt.Fprintf(b, ` type="%s"`, attr(r.Type))
	}
	if r.Message != "" {
		fmt.Fprintf(b, ` message="%s"`, attr(r.Message))
	}
	if r.Text == "" {
		b.WriteString("/>\n")
		return
	}
	fmt.Fprintf(b, ">%s</%s>\n", chardata(r.Text), element)
}

var (
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;",
		"\t", "&#9;", "\n", "&#10;", "\r", "&#13;")
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#13;")
)

// attr escapes an attribute value (already cleaned by xmlText); line breaks are written as
// character references so that parsers keep them.
func attr(s string) string { return attrEscaper.Replace(s) }

// chardata escapes element text (already cleaned by xmlText).
func chardata(s string) string { return textEscaper.Replace(s) }

// runProperties identify the run in every suite (the root element has no properties).
func runProperties(rec *executor.Record) []junitProperty {
	p := []junitProperty{
		{"plan.name", xmlText(rec.Plan.Name)},
		{"plan.digest", xmlText(rec.Plan.Digest)},
		{"manifest.sha256", xmlText(rec.Plan.ManifestSHA256)},
		{"outcome", xmlText(rec.Outcome.Result)},
		{"dry_run", strconv.FormatBool(rec.DryRun)},
	}
	if rec.Tool != "" {
		p = append(p, junitProperty{"tool_version", xmlText(rec.Tool)})
	}
	if w := rec.Settings.Window; w != nil {
		p = append(p, junitProperty{"window", utc(w.Start) + "/" + utc(w.End)})
	}
	return p
}

// failureText is the failure element's body: what an engineer needs to open a ticket.
func failureText(s executor.StepRecord, e *executor.StepError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s failed", s.ID, s.Action)
	if e.Code != "" {
		fmt.Fprintf(&b, " with %s", e.Code)
	}
	fmt.Fprintf(&b, " (%s): %s\n", e.Class, e.Message)
	if id := s.LastRequestID(); id != "" {
		fmt.Fprintf(&b, "request id: %s\n", id)
	}
	return b.String()
}

// stepDetails is a testcase's system-out: the audit trail of the step.
func stepDetails(s executor.StepRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "step: %s\naction: %s\nstatus: %s\nattempts: %d\n", s.ID, s.Action, s.Status, s.Attempts)
	if len(s.RequestIDs) > 0 {
		fmt.Fprintf(&b, "request ids: %s\n", strings.Join(s.RequestIDs, ", "))
	}
	if s.OrderID != "" {
		fmt.Fprintf(&b, "order id: %s\n", s.OrderID)
	}
	if len(s.Before) > 0 {
		fmt.Fprintf(&b, "before: %s\n", valuesText(s.Before))
	}
	if len(s.After) > 0 {
		fmt.Fprintf(&b, "after: %s\n", valuesText(s.After))
	}
	if s.StartedAt != nil {
		fmt.Fprintf(&b, "started: %s\n", utc(*s.StartedAt))
	}
	if s.FinishedAt != nil {
		fmt.Fprintf(&b, "finished: %s\n", utc(*s.FinishedAt))
	}
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}

// startOf is the earliest start among steps, for the suite's timestamp ("" if none started).
func startOf(steps []executor.StepRecord) string {
	var first string
	for _, s := range steps {
		if s.StartedAt == nil {
			continue
		}
		if t := utc(*s.StartedAt); first == "" || t < first {
			first = t
		}
	}
	return first
}

// xmlText removes the characters XML 1.0 cannot carry (controls other than tab, newline and
// carriage return, surrogates, U+FFFE and U+FFFF; and the discouraged DEL and C1 controls), which cloud error messages can contain.
// encoding/xml escapes the rest.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r >= 0x7F && r <= 0x9F, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}

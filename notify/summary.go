package notify

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/report"
)

// MaxFailures is how many failed steps a summary lists; the rest are counted. A chat
// message is read on a phone at 03:30: the first failures and where the report is are
// what matters, report.md has the others.
const MaxFailures = 10

// Summary is the plain JSON notification and what every template renders.
type Summary struct {
	Event      string         `json:"event"` // "run finished" or "run stopped"
	Plan       string         `json:"plan"`
	Digest     string         `json:"plan_digest"`
	RunDir     string         `json:"run_dir"`
	Result     string         `json:"result"` // executor.Outcome.Result
	Reason     string         `json:"reason,omitempty"`
	ExitCode   int            `json:"exit_code"`
	DryRun     bool           `json:"dry_run,omitempty"`
	Host       string         `json:"host,omitempty"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt time.Time      `json:"finished_at"`
	Counts     map[string]int `json:"counts"`
	Failures   []Failure      `json:"failures,omitempty"`
	// MoreFailures counts the failed steps left out of Failures.
	MoreFailures int               `json:"more_failures,omitempty"`
	Reports      map[string]string `json:"reports,omitempty"` // "markdown", "junit", "json" → path
	// Continue is the complete command that continues a stopped run; "" when nothing is left.
	Continue string `json:"continue,omitempty"`
}

// Failure is one failed step as an on-call engineer needs it. RequestID is the step's last
// request id (executor.StepRecord.LastRequestID), the one report.md shows.
type Failure struct {
	Step      string `json:"step"`
	Instance  string `json:"instance"`
	Code      string `json:"code,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Message   string `json:"message"`
}

// NewSummary builds the summary of rec. runDir, reports and continueCmd are what the
// command line knows; continueCmd must already be the complete command that works.
func NewSummary(rec *executor.Record, runDir string, reports map[string]string, continueCmd string) Summary {
	s := Summary{
		Event:      "run finished",
		Plan:       rec.Plan.Name,
		Digest:     rec.Plan.Digest,
		RunDir:     runDir,
		Result:     rec.Outcome.Result,
		Reason:     rec.Outcome.Reason,
		ExitCode:   rec.Outcome.ExitCode,
		DryRun:     rec.DryRun,
		StartedAt:  rec.StartedAt,
		FinishedAt: rec.FinishedAt,
		Counts:     map[string]int{},
		Reports:    reports,
		Continue:   continueCmd,
	}
	if rec.Outcome.Result == "stopped" {
		s.Event = "run stopped"
	}
	if n := len(rec.Segments); n > 0 {
		s.Host = rec.Segments[n-1].Host
	}
	for st, n := range rec.Counts {
		if n > 0 {
			s.Counts[string(st)] = n
		}
	}
	for _, st := range rec.Steps {
		if st.Status != executor.StatusFailed {
			continue
		}
		if len(s.Failures) == MaxFailures {
			s.MoreFailures++
			continue
		}
		f := Failure{Step: st.ID, Instance: st.Instance, RequestID: st.LastRequestID()}
		if st.Error != nil {
			f.Code, f.Message = st.Error.Code, st.Error.Message
		} else {
			f.Message = st.Reason
		}
		s.Failures = append(s.Failures, f)
	}
	return s
}

// headline is the one line that says what happened, in plain words.
func (s Summary) headline() string {
	what := map[string]string{
		"succeeded": "finished: every step succeeded or had nothing to do",
		"failed":    "finished with failures",
		"stopped":   "stopped before finishing",
		"refused":   "refused the plan",
		"error":     "did not run",
	}[s.Result]
	if what == "" {
		what = s.Result
	}
	dry := ""
	if s.DryRun {
		dry = " (dry run)"
	}
	line := fmt.Sprintf("upgradeplan apply of %s%s %s (exit %d)", s.Plan, dry, what, s.ExitCode)
	if s.Reason != "" {
		line += ": " + s.Reason
	}
	return line
}

// countsLine lists the non-zero counts in a stable order: the outcomes people act on first.
func (s Summary) countsLine() string {
	order := []string{"failed", "skipped", "drifted", "not-started", "cancelled", "succeeded", "noop"}
	seen := map[string]bool{}
	var parts []string
	for _, k := range order {
		if n := s.Counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
		seen[k] = true
	}
	var rest []string
	for k := range s.Counts {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, fmt.Sprintf("%d %s", s.Counts[k], k))
	}
	if len(parts) == 0 {
		return "no steps"
	}
	return strings.Join(parts, ", ")
}

// style is how a service reads a message's text.
type style int

const (
	plainText style = iota // Feishu text: shown as written
	markdown               // DingTalk and WeCom markdown
	mrkdwn                 // Slack mrkdwn
)

// slackEscaper escapes the three characters Slack reads as control sequences (<!channel>,
// <http://x|label>), as its formatting reference requires of text that is not one; the
// summary writes none of its own, so every occurrence is escaped.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// inline renders text from the record (a cloud's message, a host, a plan name) so the
// service shows it as text on its line: line breaks become spaces, Markdown is escaped
// with report.Cell (Slack's escaping is done on the whole text).
func (st style) inline(v string) string {
	switch st {
	case markdown:
		return report.Cell(strings.Join(strings.Fields(v), " "))
	case mrkdwn:
		return strings.Join(strings.Fields(v), " ")
	}
	return v
}

// code renders v as a code span: report.Code for Markdown (a fence longer than any run of
// backticks in v); Slack has no such fence, so a value with a backtick stays plain text.
func (st style) code(v string) string {
	switch {
	case v == "" || st == plainText:
		return v
	case st == markdown:
		return report.Code(v)
	case strings.Contains(v, "`"):
		return strings.Join(strings.Fields(v), " ")
	}
	return "`" + strings.Join(strings.Fields(v), " ") + "`"
}

// text is the summary in the service's style: plain lines, with emphasis and code spans
// where the service renders them, and everything from the record shown as text (cloud
// messages can carry Markdown, HTML or Slack control sequences).
func (s Summary) text(st style) string {
	code, inline := st.code, st.inline
	var b strings.Builder
	switch st {
	case markdown:
		fmt.Fprintf(&b, "**%s**\n\n", inline(s.headline()))
	case mrkdwn:
		fmt.Fprintf(&b, "*%s*\n\n", inline(s.headline()))
	default:
		fmt.Fprintf(&b, "%s\n", s.headline())
	}
	fmt.Fprintf(&b, "Steps: %s\n", s.countsLine())
	fmt.Fprintf(&b, "Plan digest: %s\n", code(s.Digest))
	if s.Host != "" {
		fmt.Fprintf(&b, "Runner: %s\n", inline(s.Host))
	}
	if len(s.Failures) > 0 {
		b.WriteString("\nFailures:\n")
		for _, f := range s.Failures {
			fmt.Fprintf(&b, "- %s: %s", code(f.Instance), inline(f.Message))
			var ids []string
			if f.Code != "" {
				ids = append(ids, "code "+code(f.Code))
			}
			if f.RequestID != "" {
				ids = append(ids, "request id "+code(f.RequestID))
			}
			if len(ids) > 0 {
				fmt.Fprintf(&b, " (%s)", strings.Join(ids, ", "))
			}
			b.WriteString("\n")
		}
		if s.MoreFailures > 0 {
			fmt.Fprintf(&b, "- and %d more failed steps (see the report)\n", s.MoreFailures)
		}
	}
	if p := s.Reports["markdown"]; p != "" {
		fmt.Fprintf(&b, "\nReport: %s\n", code(p))
	} else if s.RunDir != "" {
		fmt.Fprintf(&b, "\nRun directory: %s\n", code(s.RunDir))
	}
	if s.Continue != "" {
		fmt.Fprintf(&b, "Continue with: %s\n", code(s.Continue))
	}
	if st == mrkdwn {
		return slackEscaper.Replace(b.String())
	}
	return b.String()
}

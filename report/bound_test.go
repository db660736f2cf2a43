package report

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/provider"
)

// bigRecord is a run of n steps over five targets with every status, long failure messages
// and many buckets: the worst case for the comment limit.
func bigRecord(n int) *executor.Record {
	start := time.Date(2026, 3, 14, 2, 0, 0, 0, time.UTC)
	rec := &executor.Record{
		Schema: executor.RecordSchema, Tool: "0.1.0",
		Plan:       executor.PlanRef{Name: "fleet-10k", Digest: strings.Repeat("ab", 32), ManifestSHA256: strings.Repeat("cd", 32)},
		StartedAt:  start,
		FinishedAt: start.Add(3 * time.Hour),
		Outcome:    executor.Outcome{Result: "failed", Reason: "failure budget 5% exceeded", ExitCode: 2},
	}
	targets := []string{"kafka-hz", "mongo-hz", "rabbit-hz", "marketplace", "cache-sh"}
	statuses := []executor.Status{executor.StatusSucceeded, executor.StatusSucceeded, executor.StatusSucceeded,
		executor.StatusFailed, executor.StatusSkipped, executor.StatusNoop, executor.StatusDrifted, executor.StatusNotStarted,
		executor.StatusCancelled, executor.StatusSucceeded}
	for i := range n {
		target := targets[i%len(targets)]
		inst := fmt.Sprintf("%s-instance-%05d", target, i)
		s := executor.StepRecord{
			ID: target + "/" + inst, Target: target, Kind: "alibaba.kafka", Region: "cn-hangzhou",
			Instance: inst, Action: "UpgradeInstanceVersion", Status: statuses[i%len(statuses)],
			From: provider.Values{"version": "0.10.2"}, To: provider.Values{"version": "2.2.0"},
			Attempts: 1, RequestIDs: []string{fmt.Sprintf("%08X-0000-4000-8000-%012d", i, i)},
			DurationSeconds: float64(i%600) + 0.5,
		}
		if s.Status == executor.StatusFailed {
			s.Error = &executor.StepError{Code: "Instance.StatusError", Class: provider.ClassPermanent,
				Message: "instance " + inst + " is <Upgrading> | " + strings.Repeat("details ", 20), RequestID: s.RequestIDs[0]}
		}
		if s.Status != executor.StatusSucceeded && s.Status != executor.StatusFailed {
			s.Reason = "reason for " + inst
		}
		rec.Steps = append(rec.Steps, s)
	}
	for i := range 200 {
		rec.Buckets = append(rec.Buckets, executor.BucketStats{Account: fmt.Sprintf("acct-%03d", i), Action: "alibaba.kafka/GetInstanceList", Rate: 10, MinRate: 2.5, Calls: 1000 + i, Throttles: i})
	}
	return rec
}

func TestMarkdownFitsAGitHubCommentForAnyRunSize(t *testing.T) {
	for _, n := range []int{1, 100, 1000, 10000} {
		t.Run(fmt.Sprintf("a run of %d steps", n), func(t *testing.T) {
			md := string(markdownOf(t, bigRecord(n)))
			if len(md) >= CommentLimit {
				t.Fatalf("report.md is %d bytes, GitHub takes at most %d characters", len(md), CommentLimit)
			}
			tables, _ := gfmTables(t, md)
			requireRectangular(t, tables, md)
			if !strings.HasPrefix(md, "# upgradeplan run: fleet-10k\n\n**FAILED** — "+thousands((n+6)/10)+" of "+thousands(n)+" steps failed") {
				t.Errorf("the outcome line is missing or wrong: %q", md[:min(len(md), 200)])
			}
			if len(tables) == 0 || tables[0].Header[0] != "status" || tables[0].Rows[len(tables[0].Rows)-1][1] != "<strong>"+thousands(n)+"</strong>" {
				t.Errorf("the counts table must survive whole: %+v", tables[0])
			}
			if n >= 1000 {
				if !strings.Contains(md, "are in run.json") && !strings.Contains(md, "are listed in run.json") {
					t.Error("collapsed tables do not point at run.json")
				}
				if len(tables) < 2 || tables[1].Header[2] != "error code" || len(tables[1].Rows) == 0 {
					t.Error("failures must be the last thing collapsed, but the failures table is gone")
				}
			}
			for _, section := range []string{"## Change window", "## Plan", strings.Repeat("ab", 32)} {
				if !strings.Contains(md, section) {
					t.Errorf("report.md lost %q", section)
				}
			}
		})
	}
}

// A run over thousands of targets: the per-target sections give way to one Targets table,
// and the head (outcome, counts, failures) and the tail (window, plan digest, API calls)
// all survive; past ~400–800 targets report.md used to lose its end.
func TestMarkdownOfThousandsOfTargetsKeepsHeadAndTail(t *testing.T) {
	rec := bigRecord(6000)
	for i := range rec.Steps {
		rec.Steps[i].Target = fmt.Sprintf("target-%04d", i/2)
		if rec.Steps[i].Status != executor.StatusFailed || i%100 != 3 {
			rec.Steps[i].Status, rec.Steps[i].Error, rec.Steps[i].Reason = executor.StatusSucceeded, nil, ""
		}
	}
	md := string(markdownOf(t, rec))
	if len(md) >= CommentLimit {
		t.Fatalf("report.md is %d bytes, GitHub takes at most %d characters", len(md), CommentLimit)
	}
	tables, _ := gfmTables(t, md)
	requireRectangular(t, tables, md)
	for _, want := range []string{
		"**FAILED** — 60 of 6,000 steps failed",
		"## Failures",
		"## Targets",
		"| target-0000 | `alibaba.kafka` | cn-hangzhou | 2 | 2 | 0 | 0 |",
		"more of 3,000 targets are in run.json._",
		"## Change window",
		"- plan digest: `" + strings.Repeat("ab", 32) + "`",
		"## API calls",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if strings.Contains(md, "was cut to fit") {
		t.Error("report.md was cut: the Targets table should have made it fit")
	}
}

// Text alone too long for the limit is cut in the middle: the beginning and the end stay.
func TestBoundedDocCutsTextInTheMiddle(t *testing.T) {
	d := NewBoundedDoc(2000)
	d.Text("# head\n\n")
	for i := range 500 {
		d.Textf("- line %d\n", i)
	}
	d.Text("digest: tail\n")
	s := d.String()
	if len(s) > 2000 || !strings.HasPrefix(s, "# head\n") || !strings.HasSuffix(s, "digest: tail\n") || !strings.Contains(s, "was cut to fit") {
		t.Errorf("cut document (%d bytes) lost its head or tail:\n%s", len(s), s)
	}
}

// One line longer than half the limit (an outcome naming every stale step) is shortened
// itself when the text is cut: the head still starts the document, the tail still ends it.
func TestBoundedDocShortensALineTooLongToKeepTheHead(t *testing.T) {
	d := NewBoundedDoc(2000)
	d.Text("# head\n\n**STOPPED** — " + strings.Repeat("step t/i drifted; ", 300) + "\n\n")
	for i := range 100 {
		d.Textf("- line %d\n", i)
	}
	d.Text("digest: tail\n")
	s := d.String()
	if len(s) > 2000 || !strings.HasPrefix(s, "# head\n\n**STOPPED** — step t/i drifted; ") || !strings.Contains(s, "…\n") ||
		!strings.HasSuffix(s, "digest: tail\n") || !strings.Contains(s, "was cut to fit") {
		t.Errorf("cut document (%d bytes) lost its head or tail:\n%s", len(s), s)
	}
}

// A stopped run whose reason is longer than a comment keeps its outcome, counts and plan
// digest in report.md.
func TestMarkdownKeepsTheOutcomeOfAReasonLongerThanAComment(t *testing.T) {
	rec := bigRecord(3)
	rec.Outcome = executor.Outcome{Result: "stopped", ExitCode: 3,
		Reason: "window cutoff at 06:00: " + strings.Repeat("step kafka-hz/alikafka-01 drifted; ", 3000)}
	md := string(markdownOf(t, rec))
	if len(md) > commentBudget {
		t.Errorf("report.md is %d bytes, over the budget %d", len(md), commentBudget)
	}
	for _, want := range []string{"**STOPPED** — ", "window cutoff at 06:00: step kafka-hz/alikafka-01 drifted;", "| **total** | **3** |",
		"- plan digest: `" + strings.Repeat("ab", 32) + "`"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q; it starts:\n%.400s", want, md)
		}
	}
}

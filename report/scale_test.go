package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/planner"
)

// The largest fleet the bench plans (100,000 instances) spread over 20,000 targets: the plan
// comment keeps its head and its tail, digest and apply command included, in one summary
// table of targets.
func TestPlanMarkdownOfTwentyThousandTargetsKeepsTheDigestAndTheApplyCommand(t *testing.T) {
	sizes := make([]int, 20000)
	for i := range sizes {
		sizes[i] = 5
	}
	p := syntheticPlan(t, sizes...)
	var buf bytes.Buffer
	if err := PlanMarkdown(&buf, p, "plan.json"); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	if n := utf8.RuneCountInString(md); n >= CommentLimit {
		t.Fatalf("the Markdown has %d characters, want fewer than %d", n, CommentLimit)
	}
	tables, _ := gfmTables(t, md)
	requireRectangular(t, tables, md)
	for _, want := range []string{
		fmt.Sprintf("**Plan: %s to upgrade, 20,000 unchanged.**", thousands(80000)),
		"#### Targets",
		"more of 20,000 targets; `upgradeplan show plan.json` lists every step._",
		"#### Apply",
		"Plan digest: `" + p.Digest + "`",
		"upgradeplan apply plan.json --expect-digest " + p.Digest,
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown lacks %q", want)
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(md), "```") {
		t.Errorf("the Markdown does not end with the apply command:\n…%s", md[max(0, len(md)-300):])
	}
}

// A run of 100,000 steps over 20,000 targets: report.md keeps the outcome, the counts and
// the failures at its head and the window, the plan digest and the API calls at its tail.
func TestMarkdownOfTwentyThousandTargetsKeepsHeadAndTail(t *testing.T) {
	rec := bigRecord(100000)
	for i := range rec.Steps {
		rec.Steps[i].Target = fmt.Sprintf("target-%05d", i/5)
		if rec.Steps[i].Status != executor.StatusFailed || i%1000 != 3 {
			rec.Steps[i].Status, rec.Steps[i].Error, rec.Steps[i].Reason = executor.StatusSucceeded, nil, ""
		}
	}
	md := string(markdownOf(t, rec))
	if n := utf8.RuneCountInString(md); n >= CommentLimit {
		t.Fatalf("report.md has %d characters, GitHub takes at most %d", n, CommentLimit)
	}
	tables, _ := gfmTables(t, md)
	requireRectangular(t, tables, md)
	for _, want := range []string{
		"**FAILED** — 100 of 100,000 steps failed",
		"## Failures",
		"## Targets",
		"more of 20,000 targets are in run.json._",
		"## Change window",
		"- plan digest: `" + strings.Repeat("ab", 32) + "`",
		"## API calls",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}

// Steps are grouped by target as slices of the plan's steps; a target whose steps are
// apart (not how plan writes them) still gets all of them, and the plan is not changed.
func TestPlanStepsByTargetKeepsApartStepsAndThePlan(t *testing.T) {
	p := &planner.Plan{Steps: []planner.Step{{ID: "a/1", Target: "a"}, {ID: "b/1", Target: "b"}, {ID: "a/2", Target: "a"}, {ID: "a/3", Target: "a"}}}
	by := planStepsByTarget(p)
	var got []string
	for _, s := range by["a"] {
		got = append(got, s.ID)
	}
	if strings.Join(got, ",") != "a/1,a/2,a/3" || len(by["b"]) != 1 {
		t.Errorf("a: %v, b: %v; want a/1,a/2,a/3 and b/1", got, by["b"])
	}
	if p.Steps[1].ID != "b/1" {
		t.Errorf("grouping changed the plan: step 2 is %s, want b/1", p.Steps[1].ID)
	}
}

package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// syntheticPlan builds a plan with one target per size; instances of every second target
// get two chained steps, and every target's first instance is already up to date.
func syntheticPlan(t *testing.T, sizes ...int) *planner.Plan {
	t.Helper()
	p := &planner.Plan{
		FormatVersion: planner.FormatVersion,
		Manifest:      planner.Source{Path: "fleets/prod.yaml", SHA256: strings.Repeat("ab", 32), Name: "prod-fleet"},
		Settings:      planner.Settings{Parallelism: 10, PollInterval: planner.Duration(15e9), StepTimeout: planner.Duration(7200e9)},
	}
	for ti, n := range sizes {
		name := fmt.Sprintf("target-%02d", ti)
		tg := planner.Target{Name: name, Kind: "alibaba.kafka", Region: "cn-hangzhou"}
		if ti > 0 {
			tg.DependsOn = []string{fmt.Sprintf("target-%02d", ti-1)}
		}
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("alikafka-%02d-%05d", ti, i)
			tg.Instances = append(tg.Instances, id)
			if i == 0 {
				continue
			}
			chain := 1 + ti%2
			for k := 1; k <= chain; k++ {
				sid := name + "/" + id
				if chain > 1 {
					sid = fmt.Sprintf("%s#%d", sid, k)
				}
				p.Steps = append(p.Steps, planner.Step{
					ID: sid, Target: name, Kind: tg.Kind, Region: tg.Region, Instance: id,
					Action: "UpgradeInstanceVersion",
					From:   provider.Values{"version": "0.10.2"}, To: provider.Values{"version": "2.2.0"},
					Notes: []string{"restarts once"},
				})
			}
		}
		p.Targets = append(p.Targets, tg)
	}
	digest, err := planner.ComputeDigest(p)
	if err != nil {
		t.Fatal(err)
	}
	p.Digest = digest
	return p
}

func TestPlanMarkdownOfTenThousandInstancesFitsAGitHubCommentAndNamesEveryTarget(t *testing.T) {
	p := syntheticPlan(t, 6000, 2500, 1000, 400, 99, 1)
	var buf bytes.Buffer
	if err := PlanMarkdown(&buf, p, "plan.json"); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	if n := utf8.RuneCountInString(md); n >= CommentLimit {
		t.Fatalf("the Markdown has %d characters, want fewer than %d", n, CommentLimit)
	}
	for _, tg := range p.Targets {
		if !strings.Contains(md, "#### `"+tg.Name+"`") {
			t.Errorf("the Markdown does not name target %s", tg.Name)
		}
	}
	for _, want := range []string{
		"**Plan: 9,994 to upgrade, 6 unchanged.** 12,892 steps in 6 targets.",
		// The largest table is collapsed into its counts and actions.
		"_`target-00`: 5,999 steps (UpgradeInstanceVersion ×5,999), collapsed to fit a GitHub comment; `upgradeplan show plan.json` lists every step._",
		"upgradeplan apply plan.json --expect-digest " + p.Digest,
		"Plan digest: `" + p.Digest + "`",
		"- ⚠️ `target-00`: restarts once (5,999 steps: `alikafka-00-00001`, `alikafka-00-00002`",
		// The small table at the end still lists its rows.
		"| `alikafka-04-00098` | version: 0.10.2 → 2.2.0 | UpgradeInstanceVersion | 0 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown lacks %q", want)
		}
	}
}

func TestPlanMarkdownListsEveryStepOfASmallPlan(t *testing.T) {
	p := syntheticPlan(t, 3, 2)
	var buf bytes.Buffer
	if err := PlanMarkdown(&buf, p, "out/my plan.json"); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, s := range p.Steps {
		row := "| " + Code(planInstanceLabel(s)) + " | version: 0.10.2 → 2.2.0 | UpgradeInstanceVersion | 0 |"
		if !strings.Contains(md, row) {
			t.Errorf("the Markdown lacks the row of %s: %s", s.ID, row)
		}
	}
	if want := "| `alikafka-01-00001#1` |"; !strings.Contains(md, want) {
		t.Errorf("the Markdown lacks %q: chained steps carry their index", want)
	}
	if strings.Contains(md, "collapsed") {
		t.Errorf("a small plan was collapsed:\n%s", md)
	}
	if want := "upgradeplan apply 'out/my plan.json' --expect-digest " + p.Digest; !strings.Contains(md, want) {
		t.Errorf("the apply command is not %q (the path must be quoted for a shell):\n%s", want, md)
	}
}

func TestPlanMarkdownWithNothingToDoSaysSoAndOffersNoApply(t *testing.T) {
	p := syntheticPlan(t, 1, 1)
	var buf bytes.Buffer
	if err := PlanMarkdown(&buf, p, ""); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	if !strings.Contains(md, "**No changes.** Every instance (2) already matches the manifest.") {
		t.Errorf("the Markdown does not say there is nothing to do:\n%s", md)
	}
	if strings.Contains(md, "upgradeplan apply") {
		t.Errorf("the Markdown offers to apply an empty plan:\n%s", md)
	}
}

func TestPlanTextShowsOneLinePerStepAndATerraformSummary(t *testing.T) {
	p := syntheticPlan(t, 3, 2)
	var buf bytes.Buffer
	if err := PlanText(&buf, p, "plan.json"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"target-00: alibaba.kafka in cn-hangzhou; 3 instances, 2 to upgrade, 1 unchanged\n",
		"  ~ alikafka-00-00001  version: 0.10.2 → 2.2.0  (UpgradeInstanceVersion, wave 0)\n",
		"target-01: alibaba.kafka in cn-hangzhou; 2 instances, 1 to upgrade, 1 unchanged; after target-00\n",
		"  ~ alikafka-01-00001#2  version: 0.10.2 → 2.2.0  (UpgradeInstanceVersion, wave 0)\n",
		"Warnings:\n  ! target-00: restarts once (2 steps: alikafka-00-00001, alikafka-00-00002)\n",
		"\nPlan: 3 to upgrade, 2 unchanged. 4 steps in 2 targets.\n",
		"To apply exactly this plan: upgradeplan apply plan.json --expect-digest " + p.Digest + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the text lacks %q:\n%s", want, out)
		}
	}
}

func TestPlanChangeShowsWhatChanges(t *testing.T) {
	tests := []struct {
		name     string
		from, to provider.Values
		want     string
	}{
		{name: "one changed field reads from → to",
			from: provider.Values{"version": "0.10.2"}, to: provider.Values{"version": "2.2.0"}, want: "version: 0.10.2 → 2.2.0"},
		{name: "fields a call repeats at their current values are left out",
			from: provider.Values{"memSizeMB": int64(4096), "shards": int64(2)}, to: provider.Values{"memSizeMB": int64(8192), "shards": json.Number("2")},
			want: "memSizeMB: 4096 → 8192"},
		{name: "a field not observed before shows (none)",
			from: provider.Values{}, to: provider.Values{"serviceVersion": "3"}, want: "serviceVersion: (none) → 3"},
		{name: "a step whose to equals its from still shows its fields",
			from: provider.Values{"version": "2.2.0"}, to: provider.Values{"version": "2.2.0"}, want: "version: 2.2.0 → 2.2.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := planChange(tc.from, tc.to); got != tc.want {
				t.Errorf("planChange = %q, want %q", got, tc.want)
			}
		})
	}
}

// Thousands of targets outgrow a comment with their headings alone: the per-target sections
// give way to one summary table, and the head (the summary line) and the tail (warnings, the
// digest, the apply command) are kept; the document used to lose its end past ~800 targets.
func TestPlanMarkdownOfThousandsOfTargetsKeepsTheDigestAndTheApplyCommand(t *testing.T) {
	sizes := make([]int, 3000)
	for i := range sizes {
		sizes[i] = 3
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
		"**Plan: 6,000 to upgrade, 3,000 unchanged.**",
		"#### Targets",
		"| `target-00` | `alibaba.kafka` | cn-hangzhou | 3 | 2 | UpgradeInstanceVersion ×2 |",
		"more of 3,000 targets; `upgradeplan show plan.json` lists every step._",
		"| ⚠️ restarts once | 3,000 | 9,000 |",
		"Plan digest: `" + p.Digest + "`",
		"upgradeplan apply plan.json --expect-digest " + p.Digest,
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown lacks %q", want)
		}
	}
	if strings.Contains(md, "was cut to fit") {
		t.Error("the document was cut: the summary tables should have made it fit")
	}
}

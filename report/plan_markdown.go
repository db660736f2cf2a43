package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
)

// PlanMarkdown writes p as a pull-request comment: the summary line, the settings, one table
// per target (instance, from → to, action, wave, and what a step sends beyond from → to
// where one does: see planSends), the warnings (restarts, one-way changes,
// latest-minor upgrades: every step note), the digest and the command that applies exactly
// this plan. It stays under CommentLimit for any fleet: the largest tables are cut, then
// collapsed into a line that still names the target, its step count and its actions.
// planPath is the plan file named in the apply command ("" for plan.json).
func PlanMarkdown(w io.Writer, p *planner.Plan, planPath string) error {
	_, err := io.WriteString(w, planMarkdownDoc(p, planPath, commentBudget))
	return err
}

func planMarkdownDoc(p *planner.Plan, planPath string, limit int) string {
	sum := SummarizePlan(p)
	if planPath == "" {
		planPath = "plan.json"
	}
	d := NewBoundedDoc(limit)
	d.Textf("### upgradeplan plan: %s\n\n", Code(orDefault(p.Manifest.Name, "(unnamed)")))
	if sum.Steps == 0 {
		d.Textf("**No changes.** %s\n\n", Cell(planNoChanges(p, sum.Instances)))
	}
	d.Textf("**%s** %s in %s. Manifest %s (sha256 %s).\n\n", Cell(sum.Line()), planCount(sum.Steps, "step", "steps"),
		planCount(sum.Targets, "target", "targets"), Code(orDefault(p.Manifest.Path, "(unknown)")), Code(shortDigest(p.Manifest.SHA256)))
	d.Textf("Settings: %s.\n\n", planSettingsText(p.Settings))

	byTarget := planStepsByTarget(p)
	// One section per target; with thousands of targets they give way to one table.
	summary := NewTable("target", "kind", "region", "instances", "steps", "actions").AlignRight(3, 4)
	for _, t := range p.Targets {
		steps := byTarget[t.Name]
		summary.Add(Code(t.Name), Code(t.Kind), Cell(t.Region), thousands(len(t.Instances)), thousands(len(steps)), planActionCounts(steps))
	}
	d.BeginSections("#### Targets\n\n", summary, func(omitted, total int) string {
		return fmt.Sprintf("_… and %s more of %s targets; %s lists every step._", thousands(omitted), thousands(total),
			Code("upgradeplan show "+planShellQuote(planPath)))
	})
	for _, t := range p.Targets {
		steps := byTarget[t.Name]
		d.Textf("#### %s\n\n%s\n\n", Code(t.Name), Cell(planTargetFacts(t, steps)))
		if len(steps) == 0 {
			continue
		}
		// A "sends" column only where a step sends a parameter set (see planSends).
		sends := make([]string, len(steps))
		anySends := false
		for i, s := range steps {
			sends[i] = planSends(s.Params)
			anySends = anySends || sends[i] != ""
		}
		header := []string{"instance", "from → to", "action", "wave"}
		if anySends {
			header = append(header, "sends")
		}
		tbl := NewTable(header...).AlignRight(3)
		for i, s := range steps {
			row := []string{Code(planInstanceLabel(s)), Cell(planChange(s.From, s.To)), Cell(s.Action), fmt.Sprint(s.Wave)}
			if anySends {
				row = append(row, Cell(sends[i]))
			}
			tbl.Add(row...)
		}
		d.Table(tbl, func(omitted, total int) string {
			actions := planActionCounts(steps[total-omitted:])
			if omitted == total {
				return fmt.Sprintf("_%s: %s (%s), collapsed to fit a GitHub comment; %s lists every step._",
					Code(t.Name), planCount(total, "step", "steps"), actions, Code("upgradeplan show "+planShellQuote(planPath)))
			}
			return fmt.Sprintf("_… and %s more %s of %s (%s); %s lists every step._",
				thousands(omitted), map[bool]string{true: "step", false: "steps"}[omitted == 1], Code(t.Name), actions, Code("upgradeplan show "+planShellQuote(planPath)))
		})
		d.Text("\n")
	}

	d.EndSections()

	if warnings := planWarnings(p); len(warnings) > 0 {
		d.Text("#### Warnings\n\n")
		// One line per target and note; with thousands of targets, one row per note.
		byNote := NewTable("warning", "targets", "steps").AlignRight(1, 2)
		var notes []string
		type tally struct{ targets, steps int }
		tallies := map[string]*tally{}
		for _, wn := range warnings {
			tl, ok := tallies[wn.note]
			if !ok {
				tl = &tally{}
				tallies[wn.note] = tl
				notes = append(notes, wn.note)
			}
			tl.targets++
			tl.steps += len(wn.instances)
		}
		for _, n := range notes {
			byNote.Add("⚠️ "+Cell(n), thousands(tallies[n].targets), thousands(tallies[n].steps))
		}
		d.BeginSections("", byNote, func(omitted, total int) string {
			return fmt.Sprintf("_… and %s more of %s warnings; %s lists them._", thousands(omitted), thousands(total),
				Code("upgradeplan show "+planShellQuote(planPath)))
		})
		for _, wn := range warnings {
			d.Textf("- ⚠️ %s\n", wn.text(true))
		}
		d.EndSections()
		d.Text("\n")
	}
	d.Textf("#### Apply\n\nPlan digest: %s\n\n", Code(p.Digest))
	if sum.Steps > 0 {
		d.Textf("```sh\n%s\n```\n", planApplyCommand(p, planPath))
	}
	return d.String()
}

// planActionCounts is "UpgradeInstance ×2, UpdateInstance ×1", actions sorted.
func planActionCounts(steps []planner.Step) string {
	counts := map[string]int{}
	for _, s := range steps {
		counts[s.Action]++
	}
	var parts []string
	for _, a := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s ×%s", Cell(a), thousands(counts[a])))
	}
	return strings.Join(parts, ", ")
}

// planSettingsText lists the settings apply will use.
func planSettingsText(s planner.Settings) string {
	parts := []string{
		fmt.Sprintf("parallelism %d", s.Parallelism),
		"poll every " + planDuration(s.PollInterval),
		"step timeout " + planDuration(s.StepTimeout),
	}
	if s.MaxFailures != "" {
		parts = append(parts, "stop after "+Cell(s.MaxFailures)+" failures")
	} else {
		parts = append(parts, "no failure budget")
	}
	if s.Window != nil {
		parts = append(parts, fmt.Sprintf("window %s – %s, no new step in the last %s", Cell(utc(s.Window.Start)), Cell(utc(s.Window.End)),
			planDuration(s.Window.Cutoff)))
	} else {
		parts = append(parts, "no window")
	}
	for _, k := range slices.Sorted(maps.Keys(s.QPS)) {
		parts = append(parts, fmt.Sprintf("%s at %g/s", Code(k), s.QPS[k]))
	}
	return strings.Join(parts, " · ")
}

// planDuration writes a duration the way a manifest does: "2h", "1h30m", "15s".
func planDuration(d planner.Duration) string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

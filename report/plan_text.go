package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// PlanSummary counts what a plan changes: instances with at least one step are "to upgrade",
// the other matched instances "unchanged".
type PlanSummary struct {
	Targets   int
	Instances int
	ToUpgrade int
	Unchanged int
	Steps     int
}

// SummarizePlan counts p's instances and steps.
func SummarizePlan(p *planner.Plan) PlanSummary {
	s := PlanSummary{Targets: len(p.Targets), Steps: len(p.Steps)}
	changed := map[[2]string]bool{}
	for _, st := range p.Steps {
		changed[[2]string{st.Target, st.Instance}] = true
	}
	for _, t := range p.Targets {
		s.Instances += len(t.Instances)
	}
	s.ToUpgrade = len(changed)
	s.Unchanged = max(s.Instances-s.ToUpgrade, 0)
	return s
}

// Line is the Terraform-like summary: "Plan: 3 to upgrade, 1 unchanged."
func (s PlanSummary) Line() string {
	return fmt.Sprintf("Plan: %s to upgrade, %s unchanged.", thousands(s.ToUpgrade), thousands(s.Unchanged))
}

// PlanText writes p for a terminal: per target (in plan order) one line per step,
//
//	~ alikafka-demo-1  version: 0.10.2 → 2.2.0  (UpgradeInstanceVersion, wave 0)
//
// and, under a step that sends a parameter set (see planSends), a line "sends ...";
// then the notes as warnings, the summary line and the digest. planPath is the plan file
// named in the apply hint ("" for plan.json).
func PlanText(w io.Writer, p *planner.Plan, planPath string) error {
	var b strings.Builder
	sum := SummarizePlan(p)
	fmt.Fprintf(&b, "Fleet %s (%s, sha256 %s)\n", orDefault(p.Manifest.Name, "(unnamed)"), orDefault(p.Manifest.Path, "(unknown)"), shortDigest(p.Manifest.SHA256))
	byTarget := planStepsByTarget(p)
	for _, t := range p.Targets {
		steps := byTarget[t.Name]
		b.WriteString("\n")
		b.WriteString(t.Name + ": " + planTargetFacts(t, steps) + "\n")
		width := 0
		for _, s := range steps {
			width = max(width, len(planInstanceLabel(s)))
		}
		for _, s := range steps {
			fmt.Fprintf(&b, "  ~ %-*s  %s  (%s, wave %d)\n", width, planInstanceLabel(s), planChange(s.From, s.To), s.Action, s.Wave)
			if sends := planSends(s.Params); sends != "" {
				fmt.Fprintf(&b, "    %-*s  sends %s\n", width, "", sends)
			}
		}
		if len(steps) == 0 {
			b.WriteString("  no changes\n")
		}
	}
	if warnings := planWarnings(p); len(warnings) > 0 {
		b.WriteString("\nWarnings:\n")
		for _, wn := range warnings {
			b.WriteString("  ! " + wn.text(false) + "\n")
		}
	}
	b.WriteString("\n")
	if sum.Steps == 0 {
		fmt.Fprintf(&b, "No changes. %s\n", planNoChanges(p, sum.Instances))
	}
	fmt.Fprintf(&b, "%s %s in %s.\n", sum.Line(), planCount(sum.Steps, "step", "steps"), planCount(sum.Targets, "target", "targets"))
	fmt.Fprintf(&b, "Digest: %s\n", p.Digest)
	if sum.Steps > 0 {
		fmt.Fprintf(&b, "To apply exactly this plan: %s\n", planApplyCommand(p, planPath))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func planApplyCommand(p *planner.Plan, planPath string) string {
	if planPath == "" {
		planPath = "plan.json"
	}
	return "upgradeplan apply " + planShellQuote(planPath) + " --expect-digest " + p.Digest
}

// planShellQuote quotes a path for a POSIX shell when it needs it.
func planShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func planCount(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return thousands(n) + " " + many
}

func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return orDefault(d, "(none)")
}

// planStepsByTarget groups steps by target, keeping plan order. A plan keeps each target's
// steps together, so the groups are slices of p.Steps, not copies (a 100,000-instance plan's
// steps are tens of MB); a target whose steps are apart gets a copy, never an append into
// p.Steps.
func planStepsByTarget(p *planner.Plan) map[string][]planner.Step {
	out := make(map[string][]planner.Step, len(p.Targets))
	for i := 0; i < len(p.Steps); {
		t, j := p.Steps[i].Target, i+1
		for j < len(p.Steps) && p.Steps[j].Target == t {
			j++
		}
		if prev, seen := out[t]; seen {
			out[t] = append(slices.Clip(prev), p.Steps[i:j]...)
		} else {
			out[t] = p.Steps[i:j:j]
		}
		i = j
	}
	return out
}

// planTargetFacts is a target's one-line description: kind, region, account, counts, canary,
// concurrency and dependencies.
func planTargetFacts(t planner.Target, steps []planner.Step) string {
	changed := map[string]bool{}
	for _, s := range steps {
		changed[s.Instance] = true
	}
	parts := []string{t.Kind + " in " + t.Region}
	if t.Account != "" {
		parts = append(parts, "account "+t.Account)
	}
	parts = append(parts, fmt.Sprintf("%s, %s to upgrade, %s unchanged", planCount(len(t.Instances), "instance", "instances"),
		thousands(len(changed)), thousands(max(len(t.Instances)-len(changed), 0))))
	if t.Canary > 0 {
		parts = append(parts, fmt.Sprintf("canary %d", t.Canary))
	}
	if t.MaxConcurrent > 0 {
		parts = append(parts, fmt.Sprintf("at most %d at once", t.MaxConcurrent))
	}
	if len(t.DependsOn) > 0 {
		parts = append(parts, "after "+strings.Join(t.DependsOn, ", "))
	}
	return strings.Join(parts, "; ")
}

// planInstanceLabel is the instance id with the step's "#n" when the instance has several.
func planInstanceLabel(s planner.Step) string {
	if i := strings.LastIndexByte(s.ID, '#'); i > strings.LastIndexByte(s.ID, '/') {
		return s.Instance + s.ID[i:]
	}
	return s.Instance
}

// planChange is "field: from → to" for every field of to that changes (see changedFields),
// sorted, joined by ", ".
func planChange(from, to provider.Values) string {
	keys := changedFields(from, to)
	if len(keys) == 0 {
		return "(no observable change)"
	}
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+valueText(from[k])+" → "+valueText(to[k]))
	}
	return strings.Join(parts, ", ")
}

// planWarning is one note of one target and the steps it applies to.
type planWarning struct {
	target    string
	note      string
	instances []string // labels, in plan order
}

// planWarnings collects step notes by target and note, in plan order.
func planWarnings(p *planner.Plan) []*planWarning {
	var out []*planWarning
	index := map[[2]string]*planWarning{}
	for _, s := range p.Steps {
		for _, n := range s.Notes {
			key := [2]string{s.Target, n}
			w, ok := index[key]
			if !ok {
				w = &planWarning{target: s.Target, note: n}
				index[key] = w
				out = append(out, w)
			}
			w.instances = append(w.instances, planInstanceLabel(s))
		}
	}
	return out
}

// planWarningNames is how many instances a warning names before it only counts.
const planWarningNames = 5

// text renders the warning: "mongo-hz: restarts once (3 steps: dds-1, dds-2, dds-3)".
func (w *planWarning) text(markdown bool) string {
	name, note, inst := w.target, w.note, w.instances
	quote := func(s string) string { return s }
	if markdown {
		name, note, quote = Code(name), Cell(note), Code
	}
	var list []string
	for i, s := range inst {
		if i == planWarningNames {
			list = append(list, fmt.Sprintf("and %s more", thousands(len(inst)-i)))
			break
		}
		list = append(list, quote(s))
	}
	return fmt.Sprintf("%s: %s (%s: %s)", name, note, planCount(len(inst), "step", "steps"), strings.Join(list, ", "))
}

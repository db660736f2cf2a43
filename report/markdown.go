package report

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
)

// Markdown writes report.md: the outcome line, counts, failures first, one table per target,
// the change window and segments, the plan and manifest identity, per-API calls and throttles
// and step durations. It stays under GitHub's comment limit for any run size: the largest
// tables collapse into counts that point at run.json, failures last.
func Markdown(w io.Writer, rec *executor.Record) error {
	_, err := io.WriteString(w, markdownDoc(rec, commentBudget))
	return err
}

func markdownDoc(rec *executor.Record, limit int) string {
	d := NewBoundedDoc(limit)
	counts := countSteps(rec.Steps)
	groups := groupByTarget(rec.Steps)

	title := "upgradeplan run"
	if rec.Plan.Name != "" {
		title += ": " + Cell(rec.Plan.Name)
	}
	if rec.DryRun {
		title += " (dry run)"
	}
	d.Textf("# %s\n\n%s\n\n", title, outcomeLine(rec, counts))

	counted := NewTable("status", "steps").AlignRight(1)
	for _, s := range knownStatuses(counts) {
		counted.Add(Cell(string(s)), thousands(counts[s]))
	}
	counted.Add("**total**", "**"+thousands(len(rec.Steps))+"**")
	d.Text(counted.String())

	if failed := failedSteps(rec.Steps); len(failed) > 0 {
		d.Text("\n## Failures\n\n")
		t := NewTable("instance", "target", "error code", "class", "message", "request id")
		for _, s := range failed {
			e := s.Error
			if e == nil {
				e = &executor.StepError{Message: s.Reason}
			}
			t.Add(Cell(instanceLabel(s)), Cell(s.Target), Code(e.Code), Cell(string(e.Class)), Cell(e.Message), Code(s.LastRequestID()))
		}
		d.LastResortTable(t, func(omitted, total int) string {
			return fmt.Sprintf("_%s more of %s failures are in run.json._", thousands(omitted), thousands(total))
		})
	}

	// One section per target; with thousands of targets they give way to one table.
	summary := NewTable("target", "kind", "region", "steps", "succeeded", "failed", "other").AlignRight(3, 4, 5, 6)
	for _, g := range groups {
		gc := countSteps(g.Steps)
		other := len(g.Steps) - gc[executor.StatusSucceeded] - gc[executor.StatusFailed]
		summary.Add(Cell(g.Name), Code(g.Kind), Cell(g.Region), thousands(len(g.Steps)), thousands(gc[executor.StatusSucceeded]),
			thousands(gc[executor.StatusFailed]), thousands(other))
	}
	d.BeginSections("\n## Targets\n\n", summary, func(omitted, total int) string {
		return fmt.Sprintf("_%s more of %s targets are in run.json._", thousands(omitted), thousands(total))
	})
	for _, g := range groups {
		gc := countSteps(g.Steps)
		d.Textf("\n## %s\n\n%s\n\n", Cell(g.Name), targetLine(g, gc))
		t := NewTable("instance", "change", "status", "attempts", "request id", "order id", "duration").AlignRight(3, 6)
		for _, s := range g.Steps {
			status := "**" + Cell(string(s.Status)) + "**"
			if s.Status == executor.StatusSucceeded || s.Status == executor.StatusNoop {
				status = Cell(string(s.Status))
			}
			if s.Reason != "" {
				status += ": " + Cell(s.Reason)
			}
			t.Add(Cell(instanceLabel(s)), Cell(changeText(s.From, s.To)), status, strconv.Itoa(s.Attempts),
				Code(s.LastRequestID()), Code(s.OrderID), seconds(s.DurationSeconds))
		}
		name := g.Name
		d.Table(t, func(omitted, total int) string {
			if omitted == total {
				return fmt.Sprintf("_The %s steps of %s are listed in run.json._", thousands(total), Cell(name))
			}
			return fmt.Sprintf("_%s more of %s steps of %s are in run.json._", thousands(omitted), thousands(total), Cell(name))
		})
	}

	d.EndSections()

	d.Text("\n## Change window\n\n")
	d.Text(windowText(rec))
	if len(rec.Segments) > 0 {
		t := NewTable("segment", "started", "finished", "resumed", "host", "pid", "stopped because")
		for i, sg := range rec.Segments {
			resumed := "no"
			if sg.Resumed {
				resumed = "yes"
			}
			if w := sg.Window; w != nil {
				// An operator moved the window for this segment: auditors must see it.
				resumed += fmt.Sprintf(", window moved to %s – %s (cutoff %s)", utc(w.Start), utc(w.End), time.Duration(w.Cutoff))
			}
			t.Add(strconv.Itoa(i+1), utc(sg.StartedAt), utc(sg.FinishedAt), resumed, Cell(sg.Host), strconv.Itoa(sg.PID), Cell(sg.Stop))
		}
		d.Text("\n")
		d.Table(t, func(omitted, total int) string {
			return fmt.Sprintf("_%s of %s segments are listed in run.json._", thousands(omitted), thousands(total))
		})
	}

	d.Text("\n## Plan\n\n")
	d.Text(planText(rec))

	if len(rec.Buckets) > 0 {
		d.Text("\n## API calls\n\n")
		t := NewTable("account", "action", "calls", "polls", "throttles", "rate (req/s)", "lowest rate").AlignRight(2, 3, 4, 5, 6)
		calls, throttles := 0, 0
		for _, b := range sortedBuckets(rec.Buckets) {
			account := b.Account
			if account == "" {
				account = "default"
			}
			action := Code(b.Action)
			if b.Mutating {
				action += " (mutating)"
			}
			t.Add(Cell(account), action, thousands(b.Calls), thousands(b.Polls), thousands(b.Throttles), rate(b.Rate), rate(b.MinRate))
			calls += b.Calls
			throttles += b.Throttles
		}
		t.Add("**total**", "", "**"+thousands(calls)+"**", "", "**"+thousands(throttles)+"**", "", "")
		d.Table(t, func(omitted, total int) string {
			return fmt.Sprintf("_%s of %s API buckets are listed in run.json (%s calls, %s throttled)._", thousands(omitted), thousands(total), thousands(calls), thousands(throttles))
		})
	}

	if t := durationTable(rec.Steps); t != nil {
		d.Text("\n## Durations\n\n")
		d.Table(t, func(omitted, total int) string {
			return fmt.Sprintf("_Durations of %s kinds are in run.json._", thousands(omitted))
		})
	}
	return d.String()
}

// outcomeLine is the one line a reader needs: the result and the counts that explain it.
func outcomeLine(rec *executor.Record, c map[executor.Status]int) string {
	total := len(rec.Steps)
	result := rec.Outcome.Result
	var b strings.Builder
	switch result {
	case "succeeded":
		b.WriteString("**SUCCEEDED** — ")
		changed := c[executor.StatusSucceeded]
		fmt.Fprintf(&b, "%s of %s steps succeeded", thousands(changed), thousands(total))
		if n := c[executor.StatusNoop]; n > 0 {
			fmt.Fprintf(&b, ", %s already done", thousands(n))
		}
	case "refused":
		b.WriteString("**REFUSED** — nothing was attempted")
	case "":
		b.WriteString("**UNFINISHED** — the record has no outcome")
	default:
		fmt.Fprintf(&b, "**%s** — ", Cell(strings.ToUpper(result)))
		if n := c[executor.StatusFailed]; n > 0 || result == "failed" {
			fmt.Fprintf(&b, "%s of %s steps failed", thousands(n), thousands(total))
		} else {
			fmt.Fprintf(&b, "%s of %s steps done", thousands(total-c[executor.StatusNotStarted]-c[executor.StatusPending]-c[executor.StatusRunning]), thousands(total))
		}
		if n := c[executor.StatusSkipped]; n > 0 {
			fmt.Fprintf(&b, ", %s skipped", thousands(n))
		}
		if n := c[executor.StatusDrifted]; n > 0 {
			fmt.Fprintf(&b, ", %s drifted", thousands(n))
		}
		if n := c[executor.StatusCancelled]; n > 0 {
			fmt.Fprintf(&b, ", %s cancelled", thousands(n))
		}
	}
	if n := c[executor.StatusNotStarted]; n > 0 {
		fmt.Fprintf(&b, "; %s", notStartedPhrase(rec.Outcome.Reason, n))
	} else if rec.Outcome.Reason != "" {
		fmt.Fprintf(&b, "; %s", Cell(rec.Outcome.Reason))
	}
	if result == "stopped" {
		b.WriteString(" (resumable with `upgradeplan apply --resume`)")
	}
	return b.String()
}

// notStartedPhrase says why n steps did not start, from the executor's stop reason.
func notStartedPhrase(reason string, n int) string {
	ns := thousands(n) + " not started"
	switch {
	case strings.HasPrefix(reason, "window"):
		return "window closed with " + ns + " (" + Cell(reason) + ")"
	case strings.HasPrefix(reason, "failure budget"):
		return Cell(reason) + " with " + ns
	case reason == "signal":
		return "stopped by a signal with " + ns
	case reason == "":
		return ns
	}
	return ns + " (" + Cell(reason) + ")"
}

func targetLine(g *targetGroup, c map[executor.Status]int) string {
	parts := []string{Code(g.Kind), Cell(g.Region)}
	if g.Account != "" {
		parts = append(parts, "account "+Cell(g.Account))
	}
	var counts []string
	for _, s := range knownStatuses(c) {
		counts = append(counts, thousands(c[s])+" "+Cell(string(s)))
	}
	return strings.Join(parts, " · ") + " — " + thousands(len(g.Steps)) + " steps: " + strings.Join(counts, ", ")
}

func failedSteps(steps []executor.StepRecord) []executor.StepRecord {
	var out []executor.StepRecord
	for _, s := range steps {
		if s.Status == executor.StatusFailed {
			out = append(out, s)
		}
	}
	return out
}

func windowText(rec *executor.Record) string {
	var b strings.Builder
	if w := rec.Settings.Window; w != nil {
		fmt.Fprintf(&b, "- window: %s to %s; no step starts after %s (cutoff %s)\n",
			utc(w.Start), utc(w.End), utc(w.End.Add(-time.Duration(w.Cutoff))), time.Duration(w.Cutoff))
	} else {
		b.WriteString("- window: none; steps started as soon as their dependencies allowed\n")
	}
	fmt.Fprintf(&b, "- run: started %s, finished %s", orDash(utc(rec.StartedAt)), orDash(utc(rec.FinishedAt)))
	if !rec.StartedAt.IsZero() && rec.FinishedAt.After(rec.StartedAt) {
		fmt.Fprintf(&b, " (%s)", seconds(rec.FinishedAt.Sub(rec.StartedAt).Seconds()))
	}
	b.WriteString("\n")
	if rec.Outcome.Reason != "" {
		fmt.Fprintf(&b, "- stopped because: %s\n", Cell(rec.Outcome.Reason))
	}
	fmt.Fprintf(&b, "- exit code: %d\n", rec.Outcome.ExitCode)
	return b.String()
}

func planText(rec *executor.Record) string {
	var b strings.Builder
	p := rec.Plan
	b.WriteString("- plan: " + Cell(orDash(p.Name)))
	if p.Path != "" {
		b.WriteString(" " + Code(p.Path))
	}
	if !p.CreatedAt.IsZero() {
		b.WriteString(", created " + utc(p.CreatedAt))
	}
	fmt.Fprintf(&b, "\n- plan digest: %s\n- manifest:", Code(orDash(p.Digest)))
	if p.ManifestPath != "" {
		b.WriteString(" " + Code(p.ManifestPath))
	}
	fmt.Fprintf(&b, " sha256 %s\n", Code(orDash(p.ManifestSHA256)))
	s := rec.Settings
	fmt.Fprintf(&b, "- settings: parallelism %d, failure budget %s, poll every %s, step timeout %s\n",
		s.Parallelism, Cell(orDefault(s.MaxFailures, "none")), time.Duration(s.PollInterval), time.Duration(s.StepTimeout))
	if rec.Tool != "" {
		fmt.Fprintf(&b, "- upgradeplan %s\n", Cell(rec.Tool))
	}
	if rec.DryRun {
		b.WriteString("- dry run: no mutating call was sent\n")
	}
	return b.String()
}

func sortedBuckets(in []executor.BucketStats) []executor.BucketStats {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b executor.BucketStats) int {
		if c := strings.Compare(a.Account, b.Account); c != 0 {
			return c
		}
		return strings.Compare(a.Action, b.Action)
	})
	return out
}

// durationTable is p50/p95/max of the steps that ran, per kind; nil when none ran.
func durationTable(steps []executor.StepRecord) *Table {
	byKind := make(map[string][]float64)
	var kinds []string
	for _, s := range steps {
		if s.DurationSeconds <= 0 {
			continue
		}
		if _, ok := byKind[s.Kind]; !ok {
			kinds = append(kinds, s.Kind)
		}
		byKind[s.Kind] = append(byKind[s.Kind], s.DurationSeconds)
	}
	if len(kinds) == 0 {
		return nil
	}
	slices.Sort(kinds)
	t := NewTable("kind", "steps", "p50", "p95", "max").AlignRight(1, 2, 3, 4)
	for _, k := range kinds {
		v := byKind[k]
		slices.Sort(v)
		t.Add(Code(k), thousands(len(v)), seconds(percentile(v, 0.5)), seconds(percentile(v, 0.95)), seconds(v[len(v)-1]))
	}
	return t
}

func rate(r float64) string {
	if r <= 0 {
		return ""
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

func orDash(s string) string { return orDefault(s, "—") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

package report

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/provider"
)

// statusOrder is the order statuses are counted and listed in: problems first.
var statusOrder = []executor.Status{
	executor.StatusFailed,
	executor.StatusCancelled,
	executor.StatusSkipped,
	executor.StatusDrifted,
	executor.StatusNotStarted,
	executor.StatusRunning,
	executor.StatusPending,
	executor.StatusSucceeded,
	executor.StatusNoop,
}

// countSteps counts steps by status, from the steps themselves (the source of truth).
func countSteps(steps []executor.StepRecord) map[executor.Status]int {
	c := make(map[executor.Status]int)
	for _, s := range steps {
		c[s.Status]++
	}
	return c
}

// knownStatuses lists the statuses present in counts: statusOrder first, then any unknown
// status sorted, so a newer record still renders every step.
func knownStatuses(counts map[executor.Status]int) []executor.Status {
	var out []executor.Status
	for _, s := range statusOrder {
		if counts[s] > 0 {
			out = append(out, s)
		}
	}
	var extra []executor.Status
	for s, n := range counts {
		if n > 0 && !slices.Contains(statusOrder, s) {
			extra = append(extra, s)
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}

// thousands formats n with comma separators: 1,204.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// valueText renders one observed or planned value the same way whether it came from the
// executor (int64, float64) or from a run.json read back (json.Number).
func valueText(v any) string {
	switch v := v.(type) {
	case nil:
		return "(none)"
	case string:
		return v
	case json.Number:
		return v.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// changeText describes a step's change: "version 0.10.2 → 2.2.0", the fields that change
// (see changedFields), sorted, joined with ", ".
func changeText(from, to provider.Values) string {
	keys := changedFields(from, to)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		f, ok := from[k]
		if ok {
			parts = append(parts, k+" "+valueText(f)+" → "+valueText(to[k]))
		} else {
			parts = append(parts, k+" → "+valueText(to[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// changedFields returns the sorted fields of to whose value differs from from. A step's to
// may repeat fields it keeps (a Redis call sends its other two dimensions at their current
// values); those are left out, unless nothing else changes, when all of to is returned.
func changedFields(from, to provider.Values) []string {
	keys := make([]string, 0, len(to))
	for k := range to {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	changed := make([]string, 0, len(keys))
	for _, k := range keys {
		if f, had := from[k]; had && provider.SameValue(f, to[k]) {
			continue
		}
		changed = append(changed, k)
	}
	if len(changed) == 0 {
		return keys
	}
	return changed
}

// valuesText renders values as "k=v, k=v", keys sorted.
func valuesText(v provider.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+valueText(v[k]))
	}
	return strings.Join(parts, ", ")
}

// instanceLabel is the instance id, with the step's "#n" when an instance has several steps.
func instanceLabel(s executor.StepRecord) string {
	if i := strings.LastIndexByte(s.ID, '#'); i >= 0 && !strings.Contains(s.ID[i:], "/") {
		return s.Instance + " " + s.ID[i:]
	}
	return s.Instance
}

// seconds formats a duration in seconds for people: "0.8s", "42s", "4m12s", "1h02m".
func seconds(sec float64) string {
	if sec <= 0 || math.IsNaN(sec) || math.IsInf(sec, 0) {
		return ""
	}
	if sec < 10 {
		return strconv.FormatFloat(sec, 'f', 1, 64) + "s"
	}
	d := time.Duration(math.Round(sec)) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// decimalSeconds formats seconds as a plain decimal with millisecond precision, never with
// an exponent or a sign, as JUnit's time attribute requires.
func decimalSeconds(sec float64) string {
	if sec <= 0 || math.IsNaN(sec) || math.IsInf(sec, 0) {
		return "0.000"
	}
	return strconv.FormatFloat(sec, 'f', 3, 64)
}

// utc formats a time for reports; the zero time is "".
func utc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// targetGroup is one target's steps, in record order.
type targetGroup struct {
	Name, Kind, Region, Account string
	Steps                       []executor.StepRecord
}

// groupByTarget groups steps by target in the order targets first appear (the plan's order).
func groupByTarget(steps []executor.StepRecord) []*targetGroup {
	var groups []*targetGroup
	index := make(map[string]*targetGroup)
	for _, s := range steps {
		g, ok := index[s.Target]
		if !ok {
			g = &targetGroup{Name: s.Target, Kind: s.Kind, Region: s.Region, Account: s.Account}
			index[s.Target] = g
			groups = append(groups, g)
		}
		g.Steps = append(g.Steps, s)
	}
	return groups
}

// percentile is the nearest-rank q-quantile of sorted values.
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// totalSeconds is a run's wall time, or the sum of step times when the run has no end.
func totalSeconds(rec *executor.Record, steps []executor.StepRecord) float64 {
	if !rec.StartedAt.IsZero() && rec.FinishedAt.After(rec.StartedAt) {
		return rec.FinishedAt.Sub(rec.StartedAt).Seconds()
	}
	var sum float64
	for _, s := range steps {
		sum += s.DurationSeconds
	}
	return sum
}

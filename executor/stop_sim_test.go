package executor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/planner"
)

// applyWith is apply with a window override for the resumed segment.
func applyWith(t *testing.T, p *planner.Plan, planPath, out string, resume bool, window *planner.Window) *executor.Record {
	t.Helper()
	rec, err := executor.Apply(context.Background(), p, executor.Options{Registry: registry(), PlanPath: planPath, Out: out, VisibilityGrace: simGrace,
		Resume: resume, Window: window, Seed: 1, RequestTimeout: 5 * time.Second,
		Retry: executor.Retry{Base: 20 * time.Millisecond, Cap: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func statuses(rec *executor.Record) string {
	var b strings.Builder
	for _, s := range rec.Steps {
		fmt.Fprintf(&b, "\n  %s %s %s", s.ID, s.Status, s.Reason)
	}
	return b.String()
}

// checkOnePerChange fails when an instance received more accepted upgrade calls than it has
// steps, or a finished step's instance fewer.
func checkOnePerChange(t *testing.T, counts map[string]int, p *planner.Plan, rec *executor.Record) {
	t.Helper()
	done := map[string]int{}
	for _, s := range rec.Steps {
		if s.Status == executor.StatusSucceeded || s.Status == executor.StatusFailed {
			done[s.Instance]++
		}
	}
	for id, n := range stepsPerInstance(p) {
		if counts[id] > n {
			t.Errorf("%s received %d upgrade calls for %d changes", id, counts[id], n)
		}
		if counts[id] != done[id] {
			t.Errorf("%s received %d upgrade calls; its finished steps are %d", id, counts[id], done[id])
		}
	}
}

func TestWindowCutoffStopsNewStepsAndAResumeInALaterWindowFinishesTheRest(t *testing.T) {
	s := startSim(t, demoState(t, ""), "")
	// The window opened an hour ago and its cutoff arrives half a second after planning:
	// the Kafka canary and whatever starts at once run; Kafka's second wave, RabbitMQ after
	// Kafka and Redis after both cannot start in time.
	now := time.Now()
	closeAt := now.Add(500 * time.Millisecond)
	end := now.Add(time.Hour)
	p, path := makePlan(t, fmt.Sprintf("window: {start: %q, end: %q, cutoff: %s}",
		now.Add(-time.Hour).Format(time.RFC3339Nano), end.Format(time.RFC3339Nano), end.Sub(closeAt)))
	out := t.TempDir()

	first := applyWith(t, p, path, out, false, nil)
	if first.Outcome.ExitCode != executor.ExitStopped || first.Counts[executor.StatusNotStarted] == 0 || first.Counts[executor.StatusFailed] != 0 {
		t.Fatalf("first segment: exit %d, counts %v; want exit 3 with steps not started and none failed%s", first.Outcome.ExitCode, first.Counts, statuses(first))
	}
	if !strings.Contains(first.Outcome.Reason, "window cutoff") {
		t.Errorf("stop reason %q does not name the window cutoff", first.Outcome.Reason)
	}
	for _, st := range first.Steps {
		if st.Status == executor.StatusNotStarted && !strings.Contains(st.Reason, "window cutoff") && !strings.Contains(st.Reason, "did not run") {
			t.Errorf("%s not started for %q, want the window cutoff or the dependency that did not run", st.ID, st.Reason)
		}
	}
	calls := len(s.Calls())

	// The plan's window has closed: resuming without a new window starts nothing.
	again := applyWith(t, p, path, out, true, nil)
	if again.Outcome.ExitCode != executor.ExitStopped || again.Counts[executor.StatusNotStarted] != first.Counts[executor.StatusNotStarted] {
		t.Errorf("resume after the cutoff: exit %d, counts %v; want exit 3 and the same %d steps not started", again.Outcome.ExitCode, again.Counts, first.Counts[executor.StatusNotStarted])
	}
	for _, c := range s.Calls()[calls:] {
		if _, ok := mutating[c.Action]; ok {
			t.Errorf("resume after the cutoff sent %s %s", c.Action, c.Instance)
		}
	}

	// In the next window (an operator's explicit, recorded override) the rest runs. The
	// plan's cutoff (just under an hour) still applies to it.
	next := &planner.Window{Start: time.Now().Add(-time.Minute), End: time.Now().Add(2 * time.Hour)}
	last := applyWith(t, p, path, out, true, next)
	if last.Outcome.ExitCode != executor.ExitOK || last.Counts[executor.StatusSucceeded] != len(p.Steps) {
		t.Fatalf("resume in the next window: exit %d counts %v, want all %d succeeded%s", last.Outcome.ExitCode, last.Counts, len(p.Steps), statuses(last))
	}
	seg := last.Segments[len(last.Segments)-1]
	if seg.Window == nil || !seg.Window.End.Equal(next.End) || seg.Window.Cutoff != p.Settings.Window.Cutoff {
		t.Errorf("the last segment records window %+v, want the override ending %s with the plan's cutoff", seg.Window, next.End)
	}
	if len(last.Segments) != 3 || last.Segments[0].Window != nil {
		t.Errorf("segments %+v: want three, the first under the plan's window", last.Segments)
	}
	checkOnePerChange(t, upgradesPerInstance(s), p, last)
}

func TestFailureBudgetStopsNewStepsAndAResumeFinishesTheRest(t *testing.T) {
	// Both Compute Nest upgrades end failed (rolled back) within the first poll; the budget
	// allows one failure, so the second stops the run while Kafka's second wave, RabbitMQ
	// after it and Redis after RabbitMQ wait for their turn.
	s := startSim(t, demoState(t, ""), "failUpgrades: [si-demo-1, si-demo-2]\n")
	p, path := makePlan(t, "maxFailures: 1")
	out := t.TempDir()

	first := applyWith(t, p, path, out, false, nil)
	if first.Outcome.ExitCode != executor.ExitStopped || first.Counts[executor.StatusNotStarted] == 0 {
		t.Fatalf("first segment: exit %d counts %v; want exit 3 with steps not started%s", first.Outcome.ExitCode, first.Counts, statuses(first))
	}
	if !strings.Contains(first.Outcome.Reason, "failure budget") {
		t.Errorf("stop reason %q does not name the failure budget", first.Outcome.Reason)
	}
	if first.Counts[executor.StatusFailed] != 2 {
		t.Errorf("%d failed steps, want the 2 injected failures%s", first.Counts[executor.StatusFailed], statuses(first))
	}

	last := applyWith(t, p, path, out, true, nil)
	if last.Counts[executor.StatusNotStarted] != 0 || last.Outcome.ExitCode != executor.ExitFailed {
		t.Fatalf("resume: exit %d counts %v; want every step decided and exit 2 for the two failures%s", last.Outcome.ExitCode, last.Counts, statuses(last))
	}
	for _, st := range last.Steps {
		switch {
		case st.Target == "marketplace":
			if st.Status != executor.StatusFailed {
				t.Errorf("%s is %s, want it to stay failed", st.ID, st.Status)
			}
		default:
			if st.Status != executor.StatusSucceeded {
				t.Errorf("%s is %s (%s), want succeeded", st.ID, st.Status, st.Reason)
			}
		}
	}
	checkOnePerChange(t, upgradesPerInstance(s), p, last)
}

package reliability

import (
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// The checker itself: a calm scenario (no lag, no faults, no kills, no second apply, no
// actors, no stop) passes against the tool, and a history with a repeated upgrade, a
// record that hides it and a call after a stop is reported on every count.

func TestRandomizedCheckerPassesACalmRun(t *testing.T) {
	sc := newScenario(1)
	sc.lag, sc.listLag, sc.rules, sc.failing, sc.maxFailures, sc.actors = map[string]time.Duration{}, map[string]time.Duration{}, nil, nil, -1, nil
	sc.kills, sc.second, sc.stopAfter, sc.cutoffAfter = nil, secondNone, 0, 0
	h := runHistory(t, sc, nil)
	for _, v := range checkScenario(sc, h) {
		t.Errorf("calm run: %s", v)
	}
	if len(h.applied) == 0 {
		t.Error("the calm run applied nothing; the checker checked nothing")
	}
}

func TestRandomizedCheckerReportsWhatTheCloudDidTwice(t *testing.T) {
	step := planner.Step{ID: "kafka-hz/k-1", Instance: "k-1", From: provider.Values{"version": "0.10.2"}, To: provider.Values{"version": "2.2.0"}}
	stop := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	change := func(rid string, dropped bool) sim.AppliedChange {
		return sim.AppliedChange{Product: "alikafka", Action: "UpgradeInstanceVersion", Account: "demo-ali", Instance: "k-1", RequestID: rid,
			From: map[string]any{"version": "0.10.2"}, To: map[string]any{"version": "2.2.0"}, Dropped: dropped}
	}
	h := &history{
		plan:     &planner.Plan{Steps: []planner.Step{step}},
		applied:  []sim.AppliedChange{change("R1", true), change("R2", false)},
		calls:    []sim.CallRecord{{Time: stop.Add(time.Second), Action: "UpgradeInstanceVersion", Instance: "k-1", Params: map[string]string{}}},
		state:    map[string]map[string]any{"k-1": {"version": "2.2.0"}},
		record:   &runRecord{Steps: []stepRecord{{ID: step.ID, Instance: "k-1", Status: "noop"}}},
		segments: []segment{{name: "segment 1", code: 3, stoppedAt: stop, end: stop.Add(2 * time.Second)}},
	}
	got := strings.Join(checkScenario(&scenario{maxFailures: -1}, h), "\n")
	for _, want := range []string{
		"kafka-hz/k-1: 2 changes applied for one planned change",
		"kafka-hz/k-1 is noop (), but this run's call changed it",
		"1 mutating calls after SIGTERM to segment 1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the checker did not report %q; it said:\n%s", want, got)
		}
	}
}

// An actor upgrades a Kafka instance to 2.2.0; its list shows it a list lag later, and the
// tool's call, sent on a fresh look of that trailing list, lands as a restart (a change no
// step plans) while the step ends succeeded. Within the list lag that is the documented
// race of a look, excused; with no list lag the same history is a call on a stale view.
func TestRandomizedCheckerExcusesOnlyTheRaceAListLagWidens(t *testing.T) {
	step := planner.Step{ID: "kafka-hz/k-1", Instance: "k-1", From: provider.Values{"version": "0.10.2"}, To: provider.Values{"version": "2.2.0"}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	actorAt := t0
	callAt := t0.Add(lookRace + 10*time.Second) // beyond the look's race; within the list lag
	h := &history{
		plan: &planner.Plan{Steps: []planner.Step{step}},
		applied: []sim.AppliedChange{
			{Product: "alikafka", Actor: "oncall", Instance: "k-1", AcceptedAt: actorAt, VisibleAt: actorAt,
				From: map[string]any{"version": "0.10.2"}, To: map[string]any{"version": "2.2.0"}},
			{Product: "alikafka", Action: "UpgradeInstanceVersion", Account: "demo-ali", Instance: "k-1", RequestID: "R1", AcceptedAt: callAt, VisibleAt: callAt,
				From: map[string]any{"version": "2.2.0", "latestMinor": false}, To: map[string]any{"version": "2.2.0", "latestMinor": true}},
		},
		state:    map[string]map[string]any{"k-1": {"version": "2.2.0"}},
		record:   &runRecord{Steps: []stepRecord{{ID: step.ID, Instance: "k-1", Status: "succeeded", RequestIDs: []string{"R1"}}}},
		segments: []segment{{name: "segment 1", code: 0, end: callAt.Add(time.Second)}},
	}
	lagged := &scenario{maxFailures: -1, listLag: map[string]time.Duration{"kafka": 30 * time.Second}}
	if got := checkScenario(lagged, h); len(got) != 0 {
		t.Errorf("within the list lag, the checker reported:\n%s", strings.Join(got, "\n"))
	}
	got := strings.Join(checkScenario(&scenario{maxFailures: -1}, h), "\n")
	for _, want := range []string{"the cloud applied a change no step plans", "kafka-hz/k-1 is succeeded, but 0 of the changes"} {
		if !strings.Contains(got, want) {
			t.Errorf("without a list lag the checker did not report %q; it said:\n%s", want, got)
		}
	}
}

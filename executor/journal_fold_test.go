package executor

import (
	"testing"
	"time"
)

// A killed segment's run.json (written when it began: every step pending) is folded with
// its journal: a step whose call was answered and that ended shows how it ended, with its
// request id; a step with an intent and no result is running (sent, outcome unknown);
// a step the journal does not name stays pending; the counts follow, and the outcome
// says the run has not finished.
func TestFoldJournalShowsWhatAKilledSegmentsJournalHolds(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	rec := &Record{
		Steps:  []StepRecord{{ID: "a", Status: StatusPending}, {ID: "b", Status: StatusPending}, {ID: "c", Status: StatusPending}},
		Counts: map[Status]int{StatusPending: 3},
	}
	done := StepRecord{ID: "a", Status: StatusSucceeded}
	entries := []Entry{
		{Type: EntryBegin, Time: t0, PID: 7},
		{Type: EntryIntent, Time: t0.Add(time.Second), StepID: "a", Attempt: 1},
		{Type: EntryResult, Time: t0.Add(2 * time.Second), StepID: "a", Attempt: 1, RequestID: "req-a"},
		{Type: EntryStep, Time: t0.Add(3 * time.Second), Step: &done},
		{Type: EntryIntent, Time: t0.Add(4 * time.Second), StepID: "b", Attempt: 1},
	}
	got := FoldJournal(rec, entries)
	want := map[string]Status{"a": StatusSucceeded, "b": StatusRunning, "c": StatusPending}
	for _, st := range got.Steps {
		if st.Status != want[st.ID] {
			t.Errorf("step %s: %s, want %s", st.ID, st.Status, want[st.ID])
		}
	}
	if ids := got.Steps[0].RequestIDs; len(ids) != 1 || ids[0] != "req-a" {
		t.Errorf("step a's request ids %v, want [req-a]", ids)
	}
	if got.Steps[1].Attempts != 1 {
		t.Errorf("step b's attempts %d, want 1", got.Steps[1].Attempts)
	}
	if c := got.Counts; c[StatusSucceeded] != 1 || c[StatusRunning] != 1 || c[StatusPending] != 1 {
		t.Errorf("counts %v, want one succeeded, one running, one pending", c)
	}
	if len(got.Segments) != 1 || got.Segments[0].Stop != killedStop || !got.Segments[0].FinishedAt.Equal(t0.Add(4*time.Second)) {
		t.Errorf("segments %+v, want one, killed at its last journal line", got.Segments)
	}
	if got.Outcome.Result != "" || got.Outcome.Reason != FoldedReason {
		t.Errorf("outcome %+v, want unfinished with the folded reason", got.Outcome)
	}
	if rec.Steps[0].Status != StatusPending || rec.Counts[StatusPending] != 3 {
		t.Errorf("the record read was changed: %+v %v", rec.Steps[0], rec.Counts)
	}
	ended := append(append([]Entry(nil), entries...), Entry{Type: EntryEnd, Time: t0.Add(5 * time.Second), Stop: "window cutoff"})
	finished := &Record{Outcome: Outcome{Result: "stopped"}, Steps: []StepRecord{{ID: "a", Status: StatusPending}}, Segments: []Segment{{StartedAt: t0}}}
	if FoldJournal(finished, ended) != finished {
		t.Error("a record with an outcome was folded; its segment ended and wrote it after its last journal line")
	}
	// A resumed segment killed before it first wrote run.json: the record still holds the
	// earlier segment's outcome, which no longer holds.
	resumed := append(append([]Entry(nil), ended...), Entry{Type: EntryBegin, Time: t0.Add(time.Minute), Resumed: true, PID: 8},
		Entry{Type: EntryIntent, Time: t0.Add(61 * time.Second), StepID: "c", Attempt: 1})
	stale := &Record{Outcome: Outcome{Result: "stopped", Reason: "window cutoff", ExitCode: ExitStopped},
		Steps:  []StepRecord{{ID: "a", Status: StatusSucceeded}, {ID: "b", Status: StatusCancelled}, {ID: "c", Status: StatusNotStarted}},
		Counts: map[Status]int{StatusSucceeded: 1, StatusCancelled: 1, StatusNotStarted: 1}}
	// Killed between its end entry and its last run.json: the journal has a segment more.
	endedAgain := append(append([]Entry(nil), resumed...), Entry{Type: EntryEnd, Time: t0.Add(62 * time.Second), Stop: "signal"})
	stale.Segments = []Segment{{StartedAt: t0}}
	if got := FoldJournal(stale, endedAgain); got.Outcome.Reason != FoldedReason || len(got.Segments) != 2 {
		t.Errorf("a segment the record lacks: outcome %+v, %d segments; want folded, 2 segments", got.Outcome, len(got.Segments))
	}
	got = FoldJournal(stale, resumed)
	if got.Outcome.Result != "" || got.Outcome.Reason != FoldedReason || len(got.Segments) != 2 || got.Steps[2].Status != StatusRunning {
		t.Errorf("a resumed segment killed before its first run.json: outcome %+v, %d segments, step c %s; want unfinished, 2 segments, c running",
			got.Outcome, len(got.Segments), got.Steps[2].Status)
	}
}

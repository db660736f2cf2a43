package executor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/upgradeplan/upgradeplan/provider"
)

// stepEntries are the journal entries of one step that succeeds at its first call, in the
// order a run writes them: running, the intent, the answer, accepted, succeeded.
func stepEntries(id string) []Entry {
	rec := func(st Status, phase Phase) *StepRecord {
		return &StepRecord{ID: id, Target: "t", Kind: fakeKind, Instance: id, Action: "Upgrade", Status: st, State: phase,
			From: provider.Values{"version": "1"}, To: provider.Values{"version": "2"}}
	}
	return []Entry{
		{Type: EntryStep, StepID: id, Step: rec(StatusRunning, PhaseSending)},
		{Type: EntryIntent, StepID: id, Attempt: 1, ClientToken: "tok-" + id},
		{Type: EntryResult, StepID: id, Attempt: 1, RequestID: "req-" + id},
		{Type: EntryStep, StepID: id, Step: rec(StatusRunning, PhaseAccepted)},
		{Type: EntryStep, StepID: id, Step: rec(StatusSucceeded, "")},
	}
}

// A step costs one fsync, its intent's, where it cost one per entry (five): the fsync is
// the journal's largest CPU cost (some 90 µs each on this machine's disk). Every entry is
// in the file as soon as its write returns, so a killed process loses none of them, and
// the intent's fsync covers the entries written before it.
func TestAStepIsOneFsyncAndEveryEntryIsInTheFileWhenItsWriteReturns(t *testing.T) {
	dir := t.TempDir()
	j, err := openJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range stepEntries("t/a-1") {
		if err := j.write(e); err != nil {
			t.Fatal(err)
		}
		got, err := ReadJournal(dir) // what a resume after kill -9 here would read
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != i+1 || got[i].Type != e.Type {
			t.Fatalf("after entry %d (%s) the file holds %d entries, want %d", i, e.Type, len(got), i+1)
		}
	}
	if j.syncs != 1 {
		t.Fatalf("%d fsyncs for one step, want 1 (its intent)", j.syncs)
	}
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	if j.syncs != 2 || j.unsynced {
		t.Fatalf("after close: %d fsyncs, unsynced %v; want the step's last entries synced by close", j.syncs, j.unsynced)
	}
}

// Many steps at once, as at parallelism 2,000: each step's entries stay in its order, none
// is lost or torn, and no more fsyncs are made than intents were written.
func TestConcurrentStepsKeepTheirOrderWithAtMostOneFsyncPerIntent(t *testing.T) {
	dir := t.TempDir()
	j, err := openJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	const steps = 200
	var wg sync.WaitGroup
	for i := range steps {
		wg.Go(func() {
			for _, e := range stepEntries(fmt.Sprintf("t/a-%d", i)) {
				if err := j.write(e); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	if j.syncs > steps+1 { // +1: close
		t.Fatalf("%d fsyncs for %d steps, want at most one per intent", j.syncs, steps)
	}
	got, err := ReadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != steps*5 {
		t.Fatalf("%d entries, want %d", len(got), steps*5)
	}
	seen := map[string][]string{}
	for _, e := range got {
		kind := e.Type
		if e.Step != nil {
			kind += "/" + string(e.Step.Status) + "/" + string(e.Step.State)
		}
		seen[e.StepID] = append(seen[e.StepID], kind)
	}
	want := "step/running/sending intent result step/running/accepted step/succeeded/"
	for id, kinds := range seen {
		if got := strings.Join(kinds, " "); got != want {
			t.Fatalf("%s: entries %q, want %q", id, got, want)
		}
	}
}

// A failed write is reported to the writer whose entry it held and to every later one:
// the run stops on it, and no entry is written after a hole in the journal.
func TestAFailedJournalWriteFailsEveryLaterWrite(t *testing.T) {
	dir := t.TempDir()
	j, err := openJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	j.f.Close() // every write now fails
	es := stepEntries("t/a-1")
	if err := j.write(es[0]); err == nil {
		t.Fatal("a step entry written to a closed file: no error")
	}
	if err := j.write(es[1]); err == nil || !strings.Contains(err.Error(), filepath.Base(JournalFile)) {
		t.Fatalf("the intent after a failed write: %v, want the journal's error", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, JournalFile)); len(b) != 0 {
		t.Fatalf("the journal holds %q", b)
	}
}

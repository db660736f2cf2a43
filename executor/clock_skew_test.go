package executor

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// A take-over (another host, with the PostgreSQL state or a run directory on a shared
// volume) reads call times written by the dead runner's clock. A clock 10 minutes behind
// made a call accepted a moment ago look older than its visibility grace, and the
// take-over sent it again after one look that did not show the change yet. The grace of
// an earlier segment's call counts from the take-over at the earliest.
func TestATakeOverDoesNotTrustTheDeadRunnersClockForTheGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(30*time.Second, fleetOf(1, "a", "1"))
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
		dir := t.TempDir()
		j, err := openJournal(dir)
		if err != nil {
			t.Fatal(err)
		}
		behind := time.Now().Add(-10 * time.Minute).UTC() // the dead runner's clock
		j.write(Entry{Type: EntryBegin, Time: behind, Digest: plan.Digest, PID: 1})
		j.write(Entry{Type: EntryIntent, Time: behind, StepID: "t/a-1", Attempt: 1, ClientToken: ClientToken(plan, "t/a-1")})
		j.close()
		// The call was accepted just now; the cloud shows it 5 s later.
		now := time.Now()
		cloud.mu.Lock()
		in := cloud.insts["a-1"]
		in.pendingTo, in.busyUntil, in.visibleAt = provider.Values{"version": "2"}, now.Add(30*time.Second), now.Add(5*time.Second)
		cloud.mu.Unlock()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) { o.Resume = true })
		if err != nil {
			t.Fatal(err)
		}
		if n := cloud.sends("a-1"); n != 0 {
			t.Errorf("the take-over sent %d upgrade calls for a change accepted a moment before (its intent timed by a clock 10 min behind)", n)
		}
		if s := stepByID(t, rec, "t/a-1"); s.Status != StatusSucceeded {
			t.Errorf("step %s %q %+v; want succeeded, the change followed", s.Status, s.Reason, s.Error)
		}
	})
}

// A clock ahead of the take-over's journals a call "in the future": how long the instance
// went unwatched since the call is unknown, so a restart in place, which shows nothing once
// over, is never sent again on a guess (it was, once the skewed grace had passed).
func TestACallTimedByAClockAheadIsTakenAsUnwatched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(30*time.Second, fleetOf(1, "k", "2"))
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{minorStep("k-1")})
		dir := t.TempDir()
		j, err := openJournal(dir)
		if err != nil {
			t.Fatal(err)
		}
		ahead := time.Now().Add(10 * time.Minute).UTC()
		j.write(Entry{Type: EntryBegin, Time: ahead, Digest: plan.Digest, PID: 1})
		j.write(Entry{Type: EntryIntent, Time: ahead, StepID: "t/k-1", Attempt: 1})
		j.close()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) { o.Resume = true })
		if err != nil {
			t.Fatal(err)
		}
		if n := cloud.sends("k-1"); n != 0 {
			t.Errorf("the take-over sent %d restarts for a restart whose call, timed by a clock ahead, may already have restarted the broker", n)
		}
		s := stepByID(t, rec, "t/k-1")
		if s.Status != StatusFailed || s.Error == nil || !strings.Contains(s.Error.Message, "in doubt") {
			t.Errorf("step %s %+v; want failed in doubt", s.Status, s.Error)
		}
	})
}

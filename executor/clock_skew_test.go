package executor

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// A take-over (another host, with the PostgreSQL state or a run directory on a shared
// volume) reads call times written by the dead runner's clock. A clock 10 minutes behind
// made a call accepted a moment ago look older than its visibility grace, and the
// take-over sent it again after one look that did not show the change yet. The grace of
// an earlier segment's call counts from the take-over at the earliest.
func TestATakeOverDoesNotTrustTheDeadRunnersClockForTheGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		behind := time.Now().Add(-10 * time.Minute).UTC() // the dead runner's clock
		cloud, rec := resumeAnAcceptedCallNotVisibleYet(t, behind)
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
		cloud, rec := resumeAnInPlaceRestart(t, time.Now().Add(10*time.Minute).UTC())
		if n := cloud.sends("k-1"); n != 0 {
			t.Errorf("the take-over sent %d restarts for a restart whose call, timed by a clock ahead, may already have restarted the broker", n)
		}
		s := stepByID(t, rec, "t/k-1")
		if s.Status != StatusFailed || s.Error == nil || !strings.Contains(s.Error.Message, "in doubt") {
			t.Errorf("step %s %+v; want failed in doubt", s.Status, s.Error)
		}
	})
}

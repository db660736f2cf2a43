package executor

// Reproductions of what issue 12's randomized checker (reliability/checker_test.go) found
// against the step machine, one test each, against the fake product.

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// minorStep is a Kafka latestMinor-like change: from == to, a restart in place that shows
// nothing once it is over.
func minorStep(inst string) planner.Step {
	return planner.Step{ID: "t/" + inst, Target: "t", Instance: inst, Params: map[string]any{"version": "2"},
		From: provider.Values{"version": "2"}, To: provider.Values{"version": "2", "latestMinor": true}}
}

// Checker seed 17551557618728585626: a segment was killed right after the intent of a
// latestMinor step; the cloud restarted the broker while no segment watched, and the
// resume, seeing it running at 2.2.0 after the grace, restarted it a second time. A
// restart in place that nobody watched is never sent again on a guess: the step fails in
// doubt and says what to check.
func TestAnUnwatchedInPlaceRestartIsNotSentAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud, rec := resumeAnInPlaceRestart(t, time.Now().Add(-10*time.Minute).UTC())
		if n := cloud.sends("k-1"); n != 0 {
			t.Errorf("the resume sent %d restarts for a restart whose call may already have restarted the broker", n)
		}
		s := stepByID(t, rec, "t/k-1")
		if s.Status != StatusFailed || s.Error == nil || !strings.Contains(s.Error.Message, "in doubt") || rec.Outcome.ExitCode != ExitFailed {
			t.Errorf("step %s %+v, exit %d; want failed in doubt, exit 2", s.Status, s.Error, rec.Outcome.ExitCode)
		}
	})
}

// resumeAnInPlaceRestart resumes a killed segment that journaled the intent of k-1's
// restart in place (minorStep) at then, without its answer; it returns the cloud and the
// resume's record.
func resumeAnInPlaceRestart(t *testing.T, then time.Time) (*fakeCloud, *Record) {
	t.Helper()
	cloud := newFakeCloud(30*time.Second, fleetOf(1, "k", "2"))
	plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{minorStep("k-1")})
	dir := t.TempDir()
	j, err := openJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	j.write(Entry{Type: EntryBegin, Time: then, Digest: plan.Digest, PID: 1})
	j.write(Entry{Type: EntryIntent, Time: then, StepID: "t/k-1", Attempt: 1})
	j.close()
	rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) { o.Resume = true })
	if err != nil {
		t.Fatal(err)
	}
	return cloud, rec
}

// Within one segment, the same step whose answer was lost is watched over the grace at the
// polling cadence: a restart that did not happen is sent again, once.
func TestAWatchedInPlaceRestartWithoutEffectIsSentAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(30*time.Second, fleetOf(1, "k", "2"))
		cloud.fault = func(c provider.Call, n int) (error, bool) {
			if n == 1 {
				return &provider.Error{Class: provider.ClassRetryable, Code: "InternalError"}, false
			}
			return nil, true
		}
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{minorStep("k-1")})
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(cloud.callsOf("Upgrade")); n != 2 {
			t.Errorf("%d calls; want the refused one and one resend", n)
		}
		if s := stepByID(t, rec, "t/k-1"); s.Status != StatusSucceeded {
			t.Errorf("step %s %q %+v, want succeeded", s.Status, s.Reason, s.Error)
		}
	})
}

// RabbitMQ refuses UpdateInstance with …TopicMigrating while an earlier change still
// migrates, though its list shows the instance serving (provider.ClassBusy). Nothing
// happened: the step waits as for a busy instance, without counting attempts, and sends
// once the cloud takes the call; it is not "maybe sent" (no grace per refusal, no
// "answer lost" note, no giving up after the attempt bound).
func TestABusyRefusalWaitsAsForABusyInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(30*time.Second, fleetOf(1, "a", "1"))
		migrated := time.Now().Add(10 * time.Minute)
		cloud.fault = func(c provider.Call, n int) (error, bool) {
			if time.Now().Before(migrated) {
				return &provider.Error{Class: provider.ClassBusy, Code: "InstanceUpgradeOrDownGradeTopicMigrating"}, false
			}
			return nil, true
		}
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		s := stepByID(t, rec, "t/a-1")
		if s.Status != StatusSucceeded || strings.Contains(s.Reason, "lost") {
			t.Errorf("step %s %q %+v; want succeeded once the migration ended, no lost answer", s.Status, s.Reason, s.Error)
		}
		if ups := cloud.upgrades()["a-1"]; ups != 1 {
			t.Errorf("%d upgrades applied, want 1", ups)
		}
	})
}

// The same refusal for longer than stepTimeout fails the step without a change.
func TestABusyRefusalPastStepTimeoutFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(30*time.Second, fleetOf(1, "a", "1"))
		cloud.fault = func(c provider.Call, n int) (error, bool) {
			return &provider.Error{Class: provider.ClassBusy, Code: "InstanceUpgradeOrDownGradeTopicMigrating"}, false
		}
		plan := planOf(t, planner.Settings{StepTimeout: planner.Duration(10 * time.Minute)}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
		start := time.Now()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		s := stepByID(t, rec, "t/a-1")
		if s.Status != StatusFailed || s.Error == nil || !strings.Contains(s.Error.Message, "busy") {
			t.Errorf("step %s %+v; want failed, still busy", s.Status, s.Error)
		}
		if d := time.Since(start); d < 10*time.Minute || d > 12*time.Minute {
			t.Errorf("gave up after %s; want stepTimeout (10m)", d)
		}
	})
}

// Checker seed 13196872993367526656: a MongoDB upgrade's answer was lost, a look then showed
// the instance upgrading (maybe-sent became accepted, journaled in the step's snapshot
// only), the segment was killed, and the upgrade failed and rolled back to Running on the
// old kernel. The resume rebuilt the step as maybe-sent from the lost answer, saw the
// instance untouched after the grace and upgraded it a second time. The snapshot's
// accepted state is now the later word: the resume follows the change it saw, sends
// nothing, and the step ends failed.
func TestResumeFollowsALostAnswerThatWasSeenTakingEffect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(30*time.Second, fleetOf(1, "a", "1"))
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
		dir := t.TempDir()
		j, err := openJournal(dir)
		if err != nil {
			t.Fatal(err)
		}
		then := time.Now().Add(-10 * time.Minute).UTC()
		lost := &StepError{Class: provider.ClassUnknown, Code: "SDK.NetworkError", Message: "EOF"}
		j.write(Entry{Type: EntryBegin, Time: then, Digest: plan.Digest, PID: 1})
		j.write(Entry{Type: EntryIntent, Time: then, StepID: "t/a-1", Attempt: 1})
		j.write(Entry{Type: EntryResult, Time: then, StepID: "t/a-1", Attempt: 1, Error: lost, Class: lost.Class})
		j.write(Entry{Type: EntryStep, Time: then.Add(time.Second), StepID: "t/a-1", Step: &StepRecord{ID: "t/a-1", Instance: "a-1",
			Status: StatusRunning, State: PhaseAccepted, From: provider.Values{"version": "1"}, To: provider.Values{"version": "2"}}})
		j.close()
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), dir, func(o *Options) { o.Resume = true })
		if err != nil {
			t.Fatal(err)
		}
		if n := cloud.sends("a-1"); n != 0 {
			t.Errorf("the resume sent %d upgrade calls for a change that was seen taking effect", n)
		}
		if s := stepByID(t, rec, "t/a-1"); s.Status != StatusFailed {
			t.Errorf("step %s %q %+v; want failed: the change was seen under way and did not land", s.Status, s.Reason, s.Error)
		}
	})
}

// Checker seeds 17551558801658151146 and 10505529547271798015: a step judged ready waited
// a second for its rate-limit token (Kafka at 1/s); meanwhile another actor upgraded the
// instance, and the call went out on the old verdict (the cloud saw `to` already, or a
// `from` other than the plan's) and was recorded with the old `before`. A verdict that aged
// while the step waited for its token is replaced by a look right before the call.
func TestAVerdictThatAgedWaitingForItsTokenIsTakenAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, fleetOf(3, "a", "1"))
		start := time.Now()
		// One call a minute: a-2 and a-3 wait for their tokens long after their verdicts.
		settings := planner.Settings{QPS: map[string]float64{fakeKind + "/Upgrade": 1.0 / 60}}
		// At 30 s, while two steps wait for their tokens, another actor upgrades one of the
		// instances not called yet and moves the other elsewhere.
		want := map[string]Status{}
		acted := make(chan struct{})
		time.AfterFunc(30*time.Second, func() {
			defer close(acted)
			called := map[string]bool{}
			for _, c := range cloud.callsOf("Upgrade") {
				called[c.instance] = true
			}
			next := []provider.Values{{"version": "2"}, {"version": "7"}}
			for _, id := range []string{"a-1", "a-2", "a-3"} {
				switch {
				case called[id]:
					want["t/"+id] = StatusSucceeded
				case len(next) == 2:
					cloud.set(id, next[0])
					want["t/"+id], next = StatusNoop, next[1:]
				default:
					cloud.set(id, next[0])
					want["t/"+id] = StatusDrifted
				}
			}
		})
		plan := planOf(t, settings, oneTarget(), []planner.Step{
			versionStep("t", "a-1", "1", "2", 0), versionStep("t", "a-2", "1", "2", 0), versionStep("t", "a-3", "1", "2", 0)})
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		<-acted
		if ups := cloud.callsOf("Upgrade"); len(ups) != 1 {
			for _, c := range ups {
				t.Errorf("%s was called %s after start", c.instance, c.at.Sub(start))
			}
		}
		for id, st := range want {
			if s := stepByID(t, rec, id); s.Status != st {
				t.Errorf("%s is %s (%s), want %s", id, s.Status, s.Reason, st)
			}
		}
		if len(want) != 3 {
			t.Errorf("the actor saw %d steps", len(want))
		}
	})
}

// A MongoDB-like product, whose failed change rolls back to `from` without a trace: after
// a kill between an intent and its answer, a resume that comes later than the product's
// shortest operation cannot tell a call that never arrived from one that failed and rolled
// back unseen (checker: a failing MongoDB instance upgraded twice), so it sends nothing
// and fails the step in doubt. A resume within the shortest operation watched the whole
// spell the change would show, and sends the call again.
func TestALostAnswerOfATracelessProductIsResentOnlyIfWatched(t *testing.T) {
	for _, c := range []struct {
		name  string
		ago   time.Duration
		sends int
		want  Status
	}{
		{"resumed after the shortest operation", 10 * time.Minute, 0, StatusFailed},
		{"resumed within the shortest operation", 10 * time.Second, 1, StatusSucceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cloud := newFakeCloud(30*time.Second, fleetOf(1, "a", "1"))
				reg := cloud.registry()
				spec := reg[fakeKind]
				spec.FailureLeavesNoTrace, spec.ShortestOperation = true, time.Minute
				reg[fakeKind] = spec
				plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
				dir := t.TempDir()
				j, err := openJournal(dir)
				if err != nil {
					t.Fatal(err)
				}
				then := time.Now().Add(-c.ago).UTC()
				j.write(Entry{Type: EntryBegin, Time: then, Digest: plan.Digest, PID: 1})
				j.write(Entry{Type: EntryIntent, Time: then, StepID: "t/a-1", Attempt: 1})
				j.close()
				rec, err := runApply(t, t.Context(), plan, reg, dir, func(o *Options) { o.Resume = true })
				if err != nil {
					t.Fatal(err)
				}
				if n := cloud.sends("a-1"); n != c.sends {
					t.Errorf("the resume sent %d upgrade calls, want %d", n, c.sends)
				}
				if s := stepByID(t, rec, "t/a-1"); s.Status != c.want {
					t.Errorf("step %s %q %+v, want %s", s.Status, s.Reason, s.Error, c.want)
				}
			})
		})
	}
}

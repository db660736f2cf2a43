package executor

// This file rebuilds, for a resume, every step's machine from the journal of the earlier
// segments. Finished steps keep their record; a step whose call was accepted is followed
// (judged from a fresh observation before any timeout); a step whose call may have reached
// the cloud (an intent without a result, a 5xx or a lost answer) is maybe-sent: it is not sent
// again before the instance was seen untouched for the visibility grace after that call; a
// step whose last call was refused (permanent, or nothing to change) ends as it did;
// everything else runs afresh.

import (
	"context"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// trail is what the journal says of one step.
type trail struct {
	snap       *StepRecord
	attempts   int
	requestIDs []string
	orderID    string
	orderName  string
	// last is the outcome of the last intent: "" (no intent), "open" (no result),
	// "accepted", or the error class of its result.
	last     string
	callAt   time.Time // the last intent's time
	since    time.Time // the accepted result's time
	maySent  bool      // some intent may have reached the cloud
	answered bool
	busy     int // results refused as busy (provider.ClassBusy): nothing happened
	// seen: after the last intent's lost answer, the step's snapshot says a look showed
	// the change under way (maybe-sent became accepted): the call took effect.
	seen bool
	// lastErr is the last intent's refusal (permanent or no-change), lastAt when it came.
	lastErr *StepError
	lastAt  time.Time
}

func (r *run) restore(entries []Entry) {
	if len(entries) == 0 {
		return
	}
	trails, segs := readTrails(entries)
	r.rec.Segments = segs
	if len(segs) > 0 {
		r.rec.StartedAt = segs[0].StartedAt
	}
	if prev, err := r.state.ReadRecord(context.Background()); err == nil {
		r.prior = prev.Buckets
	}
	byID := map[string]*stepState{}
	for _, s := range r.steps {
		byID[s.step.ID] = s
	}
	now := time.Now()
	for id, t := range trails {
		if s, ok := byID[id]; ok {
			s.m = restoreStep(s.rec, t)
			if s.m.Phase == PhaseMaybeSent || s.m.Phase == PhaseAccepted {
				// The call's time is the earlier segment's clock, which after a take-over
				// is another host's: its visibility grace counts from now at the earliest,
				// so a clock that was behind cannot make an unseen change look overdue.
				s.m.GraceFrom = now
				if s.m.CallAt.After(now) {
					// A call journaled "later" than now was timed by a clock ahead of this
					// one: how long the instance went unwatched since is unknown.
					s.m.Unwatched = true
				}
			}
		}
	}
}

// readTrails reads the journal: what it says of each step, by step id, and the segments
// it records (the last one, without an end record, killed).
func readTrails(entries []Entry) (map[string]*trail, []Segment) {
	trails := map[string]*trail{}
	get := func(id string) *trail {
		t, ok := trails[id]
		if !ok {
			t = &trail{}
			trails[id] = t
		}
		return t
	}
	var segs []Segment
	last := time.Time{}
	for _, e := range entries {
		last = e.Time
		switch e.Type {
		case EntryBegin:
			if len(segs) > 0 && segs[len(segs)-1].FinishedAt.IsZero() {
				segs[len(segs)-1].FinishedAt = last
				segs[len(segs)-1].Stop = killedStop
			}
			segs = append(segs, Segment{StartedAt: e.Time, Resumed: e.Resumed, PID: e.PID, Host: e.Host, Window: e.Window})
		case EntryEnd:
			if len(segs) > 0 {
				segs[len(segs)-1].FinishedAt = e.Time
				segs[len(segs)-1].Stop = e.Stop
			}
		case EntryIntent:
			t := get(e.StepID)
			if t.last == "open" {
				t.maySent = true // an earlier intent never got its result: it may have been sent
			}
			t.attempts++
			t.last, t.callAt, t.seen = "open", e.Time, false
		case EntryResult:
			t := get(e.StepID)
			if e.RequestID != "" {
				t.requestIDs = append(t.requestIDs, e.RequestID)
			}
			if e.Error == nil {
				t.last, t.since, t.maySent = "accepted", e.Time, true
				if e.OrderID != "" {
					t.orderID = e.OrderID
				}
				if e.OrderName != "" {
					t.orderName = e.OrderName
				}
				continue
			}
			t.last = string(e.Error.Class)
			if e.Error.Class == provider.ClassPermanent || e.Error.Class == provider.ClassNoChange {
				t.lastErr, t.lastAt = e.Error, e.Time
			}
			switch e.Error.Class {
			case provider.ClassUnknown, provider.ClassRetryable:
				t.maySent = true
			case provider.ClassBusy:
				t.busy++
			}
		case EntryStep:
			if e.Step != nil {
				t := get(e.Step.ID)
				t.snap = e.Step
				if e.Step.State == PhaseAccepted && t.last != "accepted" && t.last != "" {
					t.seen = true
				}
			}
		}
	}
	if n := len(segs); n > 0 && segs[n-1].FinishedAt.IsZero() {
		segs[n-1].FinishedAt = last
		segs[n-1].Stop = killedStop
	}
	return trails, segs
}

// killedStop is the Stop of a segment whose journal has no end record.
const killedStop = "killed: the journal has no end record"

// restoreStep sets rec from the trail and returns the step's machine for this segment.
func restoreStep(rec *StepRecord, t *trail) machine {
	if t.snap != nil {
		*rec = *t.snap
	}
	rec.Attempts = t.attempts
	rec.RequestIDs = t.requestIDs
	if t.orderID != "" {
		rec.OrderID = t.orderID
	}
	if t.orderName != "" {
		rec.OrderName = t.orderName
	}
	m := machine{Phase: PhasePending, Attempt: t.attempts, MaySent: t.maySent || t.last == "open",
		CallAt: t.callAt, Before: rec.Before, Busy: t.busy}
	switch {
	case isFinal(rec.Status):
		m.Phase, m.Status, m.Reason, m.Error, m.After = PhaseFinal, rec.Status, rec.Reason, rec.Error, rec.After
		return m
	case t.seen:
		// A look of an earlier segment showed the change of a call whose answer was
		// lost under way (the only way maybe-sent becomes accepted): follow it; never
		// judge it maybe-sent again, when a change that failed and rolled back, or a
		// restart in place that is over, would look untouched.
		m.Phase, m.Since, m.AnswerLost, m.SeenBusy = PhaseAccepted, t.callAt, true, true
	case t.lastErr != nil && t.last == string(t.lastErr.Class):
		// The cloud refused the last call, and the step's record of how it ended was lost
		// with its segment (killed between the two journal lines): it ends as that segment
		// recorded it, never judged and sent afresh.
		if t.lastErr.Class == provider.ClassNoChange {
			m = noChange(m, t.lastErr)
		} else {
			m = final(m, StatusFailed, "", t.lastErr)
		}
		rec.Status, rec.Reason, rec.State, rec.Error = m.Status, m.Reason, "", m.Error
		if rec.FinishedAt == nil {
			at := t.lastAt
			rec.FinishedAt = &at
			if rec.StartedAt != nil {
				rec.DurationSeconds = at.Sub(*rec.StartedAt).Seconds()
			}
		}
		return m
	case t.last == "open", t.last == string(provider.ClassUnknown), t.last == string(provider.ClassRetryable):
		m.Phase = PhaseMaybeSent
	case t.last == "accepted":
		m.Phase, m.Since = PhaseAccepted, t.since
	}
	// Not final: this segment decides again.
	rec.Status, rec.Reason, rec.State = StatusPending, "", ""
	if m.Phase == PhasePending {
		rec.Error = nil
		rec.StartedAt, rec.FinishedAt, rec.DurationSeconds = nil, nil, 0
	} else {
		rec.Status = StatusRunning
	}
	return m
}

func isFinal(st Status) bool {
	switch st {
	case StatusSucceeded, StatusFailed, StatusSkipped, StatusNoop, StatusDrifted:
		return true
	}
	return false
}

package executor

// This file is the step machine: one pure function, advance, that takes a step's state and
// one input (an observation, the call's answer, a stop) and returns the next state, the
// journal entries that must be on disk before anything else happens, and what the driver
// (driver.go) must do next. It does no I/O, reads no clock and starts no goroutine; every
// transition is a row of machine_test.go.

import (
	"fmt"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// Phase is where a step stands in this run.
type Phase string

const (
	// PhasePending: not sent; waiting for its turn (dependencies, slots, window), then
	// judged from a fresh observation.
	PhasePending Phase = "pending"
	// PhaseWaiting: not sent; the instance was busy. The step holds no slot and no gate
	// place; a poll that shows the instance ready makes it pending again.
	PhaseWaiting Phase = "waiting"
	// PhaseSending: the intent is journaled and the call is on its way.
	PhaseSending Phase = "sending"
	// PhaseMaybeSent: the call may have reached the cloud (timeout, dropped connection, 5xx,
	// an intent without a result on resume). It is not sent again until the instance was
	// observed untouched for the product's visibility grace after the call.
	PhaseMaybeSent Phase = "maybe-sent"
	// PhaseAccepted: the cloud accepted the call (or showed that it did): completion is
	// followed.
	PhaseAccepted Phase = "accepted"
	// PhaseFinal: Status says how the step ended in this run (a final status, or not-started
	// or cancelled, which a resume continues).
	PhaseFinal Phase = "final"
)

// machine is one step's state.
type machine struct {
	Phase  Phase
	Status Status // in PhaseFinal
	Reason string
	Error  *StepError
	Before provider.Values
	After  provider.Values

	// Attempt is the number of the last intent journaled (all segments).
	Attempt int
	// MaySent: a call of this step may have reached the cloud, in this run or an earlier
	// segment; an instance then seen at `to` is this step's doing, not a noop.
	MaySent bool
	// AnswerLost: the call's outcome was learned from the instance, not from an answer.
	AnswerLost bool
	// CallAt is when the last call's intent was journaled: stepTimeout and the visibility
	// grace count from it. Since is when the call was accepted (Watch.Since).
	CallAt time.Time
	Since  time.Time
	// GraceFrom, for a call an earlier segment made, is when this segment began following
	// it: the visibility grace counts from the later of it and CallAt (graceStart), since
	// the earlier segment's clock (another host's, after a take-over) need not be this
	// one's. Zero for a call of this segment.
	GraceFrom time.Time
	// SeenBusy: the instance was seen in progress after the call.
	SeenBusy bool
	// LookFrom is when this segment began looking at the step without an answer (busy
	// instance, failing reads): stepTimeout bounds it. Observed: a poll of this segment
	// answered about the step since it was accepted.
	LookFrom time.Time
	Observed bool
	// WatchedAt is this segment's last look that showed a maybe-sent step's instance
	// untouched; Unwatched is set once two looks (the call counting as the first) were
	// further apart than MaxGap, so a busy spell may have come and gone unseen.
	WatchedAt time.Time
	Unwatched bool
	// Busy counts the calls the cloud refused because the instance was busy with an
	// earlier change (provider.ClassBusy; nothing happened, so they are no attempts);
	// BusyFrom is when the first of them was answered: stepTimeout bounds the wait.
	Busy     int
	BusyFrom time.Time
	// Resend: the call in PhaseSending is a maybe-sent step's resend (not yet written).
	Resend bool
}

// machineConfig is what the machine knows of the step and the run; fixed for a step.
type machineConfig struct {
	Timeout     time.Duration // stepTimeout
	Grace       time.Duration // the product's visibility grace
	MaxAttempts int
	// InPlace: the change shows nothing `from` does not (a restart in place, Kafka's
	// latestMinor): done only once seen busy after the call, or after the grace.
	InPlace bool
	// ChainTo is what the instance shows once every step chained on it from this one is
	// done; seen before the call, the whole chain is a noop.
	ChainTo provider.Values
	// DryRun sends nothing; APIDryRun sends the call with Call.DryRun (no intent).
	DryRun, APIDryRun bool
	// Traceless: a failed change of this product rolls back to `from` without a trace
	// (provider.Spec.FailureLeavesNoTrace).
	Traceless bool
	// MaxGap is the longest time between two looks at a maybe-sent step for its instance
	// to count as watched (see run.maxWatchGap). A restart in place shows nothing once it
	// is over, nor does a traceless failure, so such a step whose instance was not watched
	// over the whole grace is never sent again. Zero: every gap counts as watched.
	MaxGap time.Duration
	// Deferred: the cloud carries the change out later than the call (provider.Spec.Deferred),
	// so an instance untouched after the grace proves nothing: a maybe-sent call of it is
	// never sent again.
	Deferred bool
}

type inputKind int

const (
	inLook        inputKind = iota // a fresh observation, Watch.Started false (before a call, maybe-sent)
	inPoll                         // an observation of an accepted call, Watch.Started true
	inLookFailed                   // no observation: Err says why
	inAnswer                       // the call's answer: Receipt, Err
	inNotSent                      // the call did not go out (stop before it, journal failure): Why; Written if its intent is on disk
	inRejudge                      // the call did not go out: the look right before it (its verdict had aged) showed P, or failed (Err)
	inStop                         // the run stops starting steps: Why
	inStopTimeout                  // after the stop, polls failed for --stop-timeout
	inHard                         // the second signal: abandon the step
)

type input struct {
	Kind     inputKind
	At       time.Time
	P        provider.Progress
	Err      error
	Receipt  provider.Receipt
	Why      string
	Stopping bool // the run is stopping: nothing may be (re)sent
	Written  bool // inNotSent: the intent was journaled
}

// act is what the driver must do after a transition.
type act int

const (
	actAcquire   act = iota // take slots and gate (and wait for the window), then look
	actLook                 // look again (fresh, urgent) no earlier than At
	actSend                 // send the call; its intent is the first entry to journal
	actPoll                 // follow completion at the polling cadence
	actWaitReady            // give back slot and gate; poll until the instance is ready
	actBackoff              // keep the slots, sleep a backoff, then look
	actEnd                  // final: give everything back
)

type next struct {
	Act act
	At  time.Time // actLook: not before
	// Cadence: actLook joins the group's next poll at the polling cadence instead of
	// asking for one at once.
	Cadence bool
}

// advance is the step machine.
func advance(m machine, c machineConfig, in input) (machine, []Entry, next) {
	switch in.Kind {
	case inHard:
		return cancelled(m), nil, next{Act: actEnd}
	case inStop:
		if m.Phase == PhasePending || m.Phase == PhaseWaiting {
			return final(m, StatusNotStarted, in.Why, nil), nil, next{Act: actEnd}
		}
		return m, nil, resumeAct(m)
	case inStopTimeout:
		if m.Phase == PhaseFinal {
			return m, nil, next{Act: actEnd}
		}
		m = cancelled(m)
		m.Reason = "in doubt: " + m.Reason + " (polls failed for --stop-timeout after the stop: " + errText(in.Err) + ")"
		return m, nil, next{Act: actEnd}
	}
	switch m.Phase {
	case PhasePending, PhaseWaiting:
		return notSent(m, c, in)
	case PhaseSending:
		return sending(m, c, in)
	case PhaseMaybeSent:
		return maybeSent(m, c, in)
	case PhaseAccepted:
		return accepted(m, c, in)
	}
	return m, nil, next{Act: actEnd}
}

// resumeAct is what a phase does next when an input changed nothing.
func resumeAct(m machine) next {
	switch m.Phase {
	case PhasePending:
		return next{Act: actAcquire}
	case PhaseWaiting:
		return next{Act: actWaitReady}
	case PhaseMaybeSent:
		return next{Act: actLook}
	case PhaseAccepted, PhaseSending:
		return next{Act: actPoll}
	}
	return next{Act: actEnd}
}

// notSent judges a step whose call has not been sent, from a fresh observation.
func notSent(m machine, c machineConfig, in input) (machine, []Entry, next) {
	switch in.Kind {
	case inLookFailed:
		if m.LookFrom.IsZero() {
			m.LookFrom = in.At
		}
		if c.Timeout > 0 && in.At.Sub(m.LookFrom) >= c.Timeout {
			msg := fmt.Sprintf("could not observe the instance within stepTimeout %s: %s; the call was not sent", c.Timeout, errText(in.Err))
			if m.Phase == PhaseWaiting {
				msg = fmt.Sprintf("instance still busy after stepTimeout %s; the call was not sent", c.Timeout)
			}
			return final(m, StatusFailed, "", &StepError{Class: provider.ClassPermanent, Code: "StepTimeout", Message: msg}), nil, next{Act: actEnd}
		}
		return m, nil, resumeAct(m)
	case inLook, inPoll:
	default:
		return m, nil, resumeAct(m)
	}
	p := in.P
	if m.Before == nil {
		m.Before = p.Observed
	}
	if len(c.ChainTo) > 0 && p.Observed != nil && p.State != provider.StateFailed && p.State != provider.StateMissing {
		if _, ok := provider.Matches(p.Observed, c.ChainTo); ok {
			p.State = provider.StateDone
		}
	}
	switch p.State {
	case provider.StateDone:
		if m.MaySent {
			m.AnswerLost = true
			return final(m, StatusSucceeded, answerLostNote, nil).withAfter(p.Observed), nil, next{Act: actEnd}
		}
		return final(m, StatusNoop, "already shows "+describe(c.ChainTo), nil).withAfter(p.Observed), nil, next{Act: actEnd}
	case provider.StateDrifted, provider.StateMissing:
		return final(m, StatusDrifted, orDefault(p.Message, "live state no longer matches the plan's from"), nil), nil, next{Act: actEnd}
	case provider.StateFailed:
		return final(m, StatusFailed, "", &StepError{Class: provider.ClassPermanent,
			Message: orDefault(p.Message, "the instance is in a failed state ("+p.Status+")")}).withAfter(p.Observed), nil, next{Act: actEnd}
	case provider.StatePending:
		if m.Phase == PhaseWaiting {
			// Ready again: back in line for a slot, then judged afresh right before the call.
			m.Phase, m.LookFrom = PhasePending, time.Time{}
			return m, nil, next{Act: actAcquire}
		}
		if in.Stopping {
			return final(m, StatusNotStarted, in.Why, nil), nil, next{Act: actEnd}
		}
		if c.DryRun && !c.APIDryRun {
			return final(m, StatusSucceeded, "dry run: not sent", nil), nil, next{Act: actEnd}
		}
		m.Phase, m.LookFrom = PhaseSending, time.Time{}
		if p.Observed != nil {
			m.Before = p.Observed // what the call is judged on
		}
		if c.DryRun {
			return m, nil, next{Act: actSend}
		}
		m.Attempt++
		m.CallAt = in.At
		return m, []Entry{{Type: EntryIntent, Attempt: m.Attempt}}, next{Act: actSend}
	}
	// Busy (waiting, or in progress for some other reason): wait without holding a slot.
	if m.LookFrom.IsZero() {
		m.LookFrom = in.At
	}
	if c.Timeout > 0 && in.At.Sub(m.LookFrom) >= c.Timeout {
		return final(m, StatusFailed, "", &StepError{Class: provider.ClassPermanent, Code: "StepTimeout",
			Message: fmt.Sprintf("instance still busy after stepTimeout %s; the call was not sent", c.Timeout)}), nil, next{Act: actEnd}
	}
	m.Phase = PhaseWaiting
	return m, nil, next{Act: actWaitReady}
}

// answerLostNote is the reason of a step whose call's answer never arrived and whose change
// the instance shows.
const answerLostNote = "the call's answer was lost (request id unknown); the instance shows the change"

// sending takes the call's answer.
func sending(m machine, c machineConfig, in input) (machine, []Entry, next) {
	switch in.Kind {
	case inNotSent:
		var entries []Entry
		if in.Written {
			// A throttled first send did nothing; the resend did not go out.
			entries = []Entry{{Type: EntryResult, Attempt: m.Attempt, Class: provider.ClassThrottled,
				Error: &StepError{Class: provider.ClassThrottled, Message: "not resent: " + in.Why}}}
		} else {
			m.Attempt-- // its intent never reached the journal
		}
		if m.MaySent {
			// An earlier attempt may have reached the cloud: the record must say so.
			return final(m, StatusCancelled, fmt.Sprintf("in doubt: call attempt %d may have been sent (its answer was lost); the next attempt was not sent (%s): resume reconciles it", m.Attempt, in.Why), nil), entries, next{Act: actEnd}
		}
		return final(m, StatusNotStarted, in.Why, nil), entries, next{Act: actEnd}
	case inRejudge:
		// Not sent: the verdict had aged while the step waited for its token, and the look
		// taken right before the call no longer shows the instance ready (someone changed
		// it, or it is busy), or failed. Its intent was never written: judge from the look.
		m.Attempt--
		look := input{Kind: inLook, At: in.At, P: in.P, Stopping: in.Stopping, Why: in.Why}
		if in.Err != nil {
			look.Kind, look.Err = inLookFailed, in.Err
		}
		if m.Resend {
			m.Phase, m.Resend = PhaseMaybeSent, false
			return maybeSent(m, c, look)
		}
		m.Phase = PhasePending
		return notSent(m, c, look)
	case inAnswer:
	default:
		return m, nil, next{Act: actSend}
	}
	m.Resend = false
	if c.DryRun {
		if in.Err != nil {
			return final(m, StatusFailed, "dry run", stepError(in.Err)), nil, next{Act: actEnd}
		}
		return final(m, StatusSucceeded, "dry run: the API's own dry run accepted the call", nil), nil, next{Act: actEnd}
	}
	res := Entry{Type: EntryResult, Attempt: m.Attempt, RequestID: in.Receipt.RequestID, OrderID: in.Receipt.OrderID, OrderName: in.Receipt.OrderName}
	if in.Err == nil {
		m.Phase, m.MaySent, m.Since = PhaseAccepted, true, in.At
		return m, []Entry{res}, next{Act: actPoll}
	}
	se := stepError(in.Err)
	if se.Class == provider.ClassNoChange && !c.InPlace {
		// Only a change that shows nothing new (a restart in place: Kafka's latestMinor)
		// can have nothing to do at its call; its judgement saw from, not to, right before.
		// The refusal is then not what it says: the step failed, recorded as permanent.
		se.Class = provider.ClassPermanent
		se.Message += " (refused as having nothing to change, but the step changes a value the instance does not show)"
	}
	res.Error, res.Class, res.RequestID = se, se.Class, se.RequestID
	switch se.Class {
	case provider.ClassPermanent:
		return final(m, StatusFailed, "", se), []Entry{res}, next{Act: actEnd}
	case provider.ClassNoChange:
		return noChange(m, se), []Entry{res}, next{Act: actEnd}
	case provider.ClassThrottled:
		// Still throttled after the Limiter's own retries: nothing happened.
		if m.attempts() >= c.MaxAttempts {
			return final(m, StatusFailed, fmt.Sprintf("gave up after %d attempts", m.attempts()), se), []Entry{res}, next{Act: actEnd}
		}
		m.Phase = PhasePending
		return m, []Entry{res}, next{Act: actBackoff}
	case provider.ClassBusy:
		// Refused: the instance is busy with an earlier change and nothing happened. Wait
		// as for a busy instance (no slot held, no attempt counted), judged afresh once a
		// poll shows it ready; stepTimeout counts from the first refusal.
		m.Busy++
		if m.BusyFrom.IsZero() {
			m.BusyFrom = in.At
		}
		if c.Timeout > 0 && in.At.Sub(m.BusyFrom) >= c.Timeout {
			se.Message = fmt.Sprintf("the cloud still refused the call as busy after stepTimeout %s (%d refusals): %s", c.Timeout, m.Busy, se.Message)
			return final(m, StatusFailed, "", se), []Entry{res}, next{Act: actEnd}
		}
		m.Phase = PhaseWaiting
		if m.LookFrom.IsZero() {
			m.LookFrom = in.At
		}
		return m, []Entry{res}, next{Act: actWaitReady}
	}
	// Retryable (5xx) or unknown: the call may have reached the cloud. Its watch starts now.
	m.Phase, m.MaySent = PhaseMaybeSent, true
	m.Error = se
	m.WatchedAt, m.Unwatched = time.Time{}, false
	return m, []Entry{res}, next{Act: actLook, At: in.At}
}

// graceStart is when the last call's visibility grace began, as this segment's clock can
// tell: CallAt, and for an earlier segment's call no earlier than this segment took it up.
func (m machine) graceStart() time.Time {
	if m.GraceFrom.After(m.CallAt) {
		return m.GraceFrom
	}
	return m.CallAt
}

// maybeSent watches an instance whose call may have reached the cloud: any sign of the
// change makes it accepted; only an instance untouched for the grace gets the call again.
func maybeSent(m machine, c machineConfig, in input) (machine, []Entry, next) {
	switch in.Kind {
	case inLookFailed:
		if c.Timeout > 0 && in.At.Sub(m.CallAt) >= c.Timeout && in.At.Sub(m.LookFrom) >= c.Timeout {
			return final(m, StatusFailed, "", &StepError{Class: provider.ClassUnknown,
				Message: "could not read the instance to reconcile an unanswered call: " + errText(in.Err)}), nil, next{Act: actEnd}
		}
		if m.LookFrom.IsZero() {
			m.LookFrom = in.At
		}
		return m, nil, next{Act: actLook}
	case inLook, inPoll:
	default:
		return m, nil, next{Act: actLook}
	}
	p := in.P
	if m.Before == nil {
		m.Before = p.Observed
	}
	untouched := p.State == provider.StatePending || (c.InPlace && p.State == provider.StateDone)
	switch {
	case untouched:
		prev := m.WatchedAt
		if prev.IsZero() || prev.Before(m.CallAt) {
			prev = m.CallAt
		}
		if c.MaxGap > 0 && in.At.Sub(prev) > c.MaxGap {
			m.Unwatched = true
		}
		m.WatchedAt = in.At
		if in.At.Sub(m.graceStart()) < c.Grace {
			// Watched at the polling cadence: a short busy spell (a restart in place, an
			// upgrade that rolls back) is a sign of the change too.
			return m, nil, next{Act: actLook, Cadence: true}
		}
		if in.Stopping {
			m = final(m, StatusCancelled, fmt.Sprintf("in doubt: call attempt %d was sent, its answer lost, and showed no effect within the visibility grace %s; not sent again (%s): resume reconciles it", m.Attempt, c.Grace, in.Why), m.Error)
			return m, nil, next{Act: actEnd}
		}
		if c.Deferred {
			// Accepted, it would show nothing until the maintenance window: an untouched
			// instance may still have the call. Look until the change shows or time is up.
			if c.Timeout > 0 && in.At.Sub(m.CallAt) >= c.Timeout {
				return final(m, StatusFailed, "", &StepError{Class: provider.ClassUnknown, Code: "InDoubt",
					Message: fmt.Sprintf("in doubt: call attempt %d may have reached the cloud (its answer was lost), and the change, planned for later (the maintenance window), "+
						"did not show within stepTimeout %s; not sent again: check the instance's pending tasks, then re-plan if it still needs the change", m.Attempt, c.Timeout)}), nil, next{Act: actEnd}
			}
			return m, nil, next{Act: actLook, Cadence: true}
		}
		if (c.InPlace || c.Traceless) && m.Unwatched {
			// A restart in place shows nothing once it is over, nor does a failed change
			// that rolled back, and nobody watched the whole grace (a crash, failing
			// reads): the call may have been made already. Never make it twice on a guess.
			what := "this change shows nothing once done"
			if !c.InPlace {
				what = "a failed change of this product rolls back without a trace"
			}
			return final(m, StatusFailed, "", &StepError{Class: provider.ClassUnknown, Code: "InDoubt",
				Message: fmt.Sprintf("in doubt: call attempt %d may have reached the cloud (its answer was lost) and %s; "+
					"the instance was not watched over the whole visibility grace %s (looks more than %s apart), so it may have changed unseen; not sent again: "+
					"check the instance's history, then re-plan if it still needs the change", m.Attempt, what, c.Grace, c.MaxGap)}), nil, next{Act: actEnd}
		}
		if m.attempts() >= c.MaxAttempts {
			return final(m, StatusFailed, fmt.Sprintf("gave up after %d attempts; none took effect within the visibility grace", m.attempts()), m.Error), nil, next{Act: actEnd}
		}
		// Untouched for the grace: the call never took effect. Send it again (same token);
		// CallAt moves to the new intent when the send guard writes it.
		m.Phase, m.Error, m.LookFrom, m.Resend = PhaseSending, nil, time.Time{}, true
		m.Attempt++
		return m, []Entry{{Type: EntryIntent, Attempt: m.Attempt}}, next{Act: actSend}
	case p.State == provider.StateDone:
		m.AnswerLost, m.Error = true, nil
		return final(m, StatusSucceeded, answerLostNote, nil).withAfter(p.Observed), nil, next{Act: actEnd}
	case p.State == provider.StateWaiting || p.State == provider.StateInProgress:
		m.Phase, m.AnswerLost, m.SeenBusy, m.Error = PhaseAccepted, true, true, nil
		m.Since, m.Observed, m.LookFrom = m.CallAt, true, time.Time{}
		return m, nil, next{Act: actPoll}
	case p.State == provider.StateFailed:
		return final(m, StatusFailed, "", &StepError{Class: provider.ClassPermanent,
			Message: orDefault(p.Message, "the instance is in a failed state ("+p.Status+")")}).withAfter(p.Observed), nil, next{Act: actEnd}
	}
	return final(m, StatusFailed, "", &StepError{Class: provider.ClassUnknown,
		Message: "after an unanswered call the instance shows neither from nor to: " + orDefault(p.Message, string(p.State))}).withAfter(p.Observed), nil, next{Act: actEnd}
}

// accepted follows an accepted call until the instance shows `to`, fails, or stepTimeout.
func accepted(m machine, c machineConfig, in input) (machine, []Entry, next) {
	timedOut := func() bool {
		// A resumed step is judged from a fresh observation before any timeout applies.
		return c.Timeout > 0 && in.At.Sub(m.CallAt) >= c.Timeout && (m.Observed || in.At.Sub(m.LookFrom) >= c.Timeout)
	}
	if m.LookFrom.IsZero() {
		m.LookFrom = in.At
	}
	timeout := func(detail string) (machine, []Entry, next) {
		msg := fmt.Sprintf("not complete after stepTimeout %s", c.Timeout) + detail
		return final(m, StatusFailed, "", &StepError{Class: provider.ClassPermanent, Code: "StepTimeout", Message: msg}), nil, next{Act: actEnd}
	}
	switch in.Kind {
	case inLookFailed:
		if timedOut() {
			return timeout("; last error: " + errText(in.Err))
		}
		return m, nil, next{Act: actPoll}
	case inLook, inPoll:
	default:
		return m, nil, next{Act: actPoll}
	}
	p := in.P
	m.Observed = true
	switch p.State {
	case provider.StateDone:
		reason := ""
		if c.InPlace && !m.SeenBusy {
			if in.At.Sub(m.graceStart()) < c.Grace {
				return m, nil, next{Act: actPoll} // the restart may not have begun yet
			}
			reason = fmt.Sprintf("never seen leaving running after the call; running after the visibility grace %s, taken as done", c.Grace)
		}
		if m.AnswerLost {
			reason = joinNotes(answerLostNote, reason)
		}
		return final(m, StatusSucceeded, reason, nil).withAfter(p.Observed), nil, next{Act: actEnd}
	case provider.StateFailed, provider.StateMissing, provider.StateDrifted:
		return final(m, StatusFailed, "", &StepError{Class: provider.ClassPermanent,
			Message: orDefault(p.Message, "the product reports "+string(p.State)+" ("+p.Status+")")}).withAfter(p.Observed), nil, next{Act: actEnd}
	case provider.StateInProgress, provider.StateWaiting:
		m.SeenBusy = true
	}
	if timedOut() {
		detail := ""
		if p.Status != "" {
			detail = "; last status " + p.Status
		}
		m.After = p.Observed
		return timeout(detail)
	}
	return m, nil, next{Act: actPoll}
}

// attempts counts the calls that may have done something: busy refusals are none.
func (m machine) attempts() int { return m.Attempt - m.Busy }

// noChange ends a step whose call the cloud refused as having nothing to do: a noop, or,
// when an earlier attempt's answer was lost (it may have made the change), succeeded.
func noChange(m machine, se *StepError) machine {
	if m.MaySent {
		m.AnswerLost = true
		return final(m, StatusSucceeded, "an earlier call's answer was lost; the cloud then answered that nothing is left to change: "+se.String(), nil)
	}
	return final(m, StatusNoop, "the cloud answered that nothing needs to change: "+se.String(), nil)
}

func final(m machine, st Status, reason string, serr *StepError) machine {
	m.Phase, m.Status, m.Reason = PhaseFinal, st, reason
	if serr != nil {
		m.Error = serr
	} else if st != StatusFailed {
		m.Error = nil
	}
	return m
}

func (m machine) withAfter(v provider.Values) machine {
	if v != nil {
		m.After = v
	}
	return m
}

// cancelled ends a step the run abandons, saying whether its call was sent.
func cancelled(m machine) machine {
	switch m.Phase {
	case PhaseFinal:
		return m
	case PhasePending, PhaseWaiting:
		switch {
		case m.MaySent:
			return final(m, StatusCancelled, fmt.Sprintf("an earlier call attempt may have reached the cloud (its answer was lost), and the run ended before attempt %d was sent; resume reconciles it", m.Attempt+1), nil)
		case m.Attempt > 0:
			return final(m, StatusCancelled, fmt.Sprintf("call attempt %d was sent and refused (throttled or busy: nothing changed); the run ended before the next was sent", m.Attempt), nil)
		}
		return final(m, StatusCancelled, "the run ended before the call was sent", nil)
	case PhaseSending:
		return final(m, StatusCancelled, fmt.Sprintf("call attempt %d was sent, its answer not received; resume reconciles it", m.Attempt), nil)
	case PhaseMaybeSent:
		return final(m, StatusCancelled, fmt.Sprintf("call attempt %d may have been sent (its answer was lost); resume reconciles it", m.Attempt), nil)
	}
	return final(m, StatusCancelled, "the call was sent and accepted; resume follows it", nil)
}

func errText(err error) string {
	if err == nil {
		return "no answer"
	}
	return err.Error()
}

func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

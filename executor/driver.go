package executor

// This file is the driver: one goroutine per step that feeds the step machine (machine.go)
// and does what it asks. feed persists every transition (journal entries, the step's
// record) before the driver acts on it; the call's intent is written by the send guard right
// before the request leaves, after its rate-limit token.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// runStep takes one step from waiting on its dependencies to the end of this segment.
func (r *run) runStep(ctx context.Context, s *stepState) {
	defer func() {
		close(s.done)
		r.stepDone(s)
	}()
	if r.phase(s) == PhaseFinal {
		return
	}
	defer r.releaseLease(s)
	defer r.releaseSlots(s)
	defer r.unready(s)
	for _, d := range s.deps {
		select {
		case <-d.s.done:
		case <-ctx.Done():
			r.feed(s, input{Kind: inStop, Why: "the run ended before " + d.s.step.ID + " finished"})
			return
		}
	}
	for _, w := range s.waits {
		select {
		case <-w.b.done:
		case <-ctx.Done():
			r.feed(s, input{Kind: inStop, Why: fmt.Sprintf("the run ended before wave %d of target %s finished", w.b.wave, w.b.target)})
			return
		}
	}
	if st, why := r.depVerdict(s); st != "" {
		r.mu.Lock()
		s.m = final(s.m, st, why, nil)
		r.mu.Unlock()
		r.persist(s, machine{}, nil)
		return
	}
	nx := resumeAct(r.machineOf(s))
	if ph := r.phase(s); ph == PhaseAccepted || ph == PhaseMaybeSent {
		// A call of an earlier segment: follow it in a slot, whatever the stop says.
		if ok, in := r.takeLease(ctx, s, true); !ok {
			if r.phase(s) != PhaseFinal {
				r.feed(s, in)
			}
			return
		}
		if ok, _ := r.acquire(ctx, s, true); !ok {
			r.feed(s, input{Kind: inHard})
			return
		}
		if ph == PhaseMaybeSent {
			r.waitWindow(ctx) // a resend would start the change: not before the window opens
		}
		s.lastOK = time.Now()
		nx = next{Act: actLook}
		if ph == PhaseAccepted {
			nx = r.observe(ctx, s, true, true) // judged afresh before any timeout applies
		}
	}
	for {
		switch nx.Act {
		case actEnd:
			return
		case actAcquire:
			if why, ok := r.stopped(); ok {
				nx = r.feed(s, input{Kind: inStop, Why: why})
				continue
			}
			if ok, in := r.takeLease(ctx, s, false); !ok {
				if r.phase(s) == PhaseFinal {
					return
				}
				nx = r.feed(s, in)
				continue
			}
			r.markReady(s)
			ok, _ := r.acquire(ctx, s, false)
			r.admission.done(s) // holding its slot: the next ready step may wait in its place
			if !ok {
				nx = r.feed(s, r.stopInput(ctx))
				continue
			}
			r.waitWindow(ctx)
			if p := r.takePreJudged(s); p != nil && time.Since(p.at) <= r.lookFreshness() {
				s.setJudged(p.at)
				nx = r.feed(s, input{Kind: inLook, P: r.dryRunView(s, p.p)})
				continue
			}
			if s.spec.ReadPerWatch {
				// The look is a read of its own: taken before the slot, a wait for the slot
				// longer than the look freshness bound throws it away and the send guard
				// reads the instance again (judgeAndTakeSlot). The slot comes first, as
				// there; the token wait it then spans is short, the kind's upgrade bucket
				// being paced by its reads.
				if ok, _ := r.acquireSlots(ctx, s, r.stopCh); !ok {
					nx = r.feed(s, r.stopInput(ctx))
					continue
				}
			}
			nx = r.observe(ctx, s, false, true)
		case actLook:
			if d := time.Until(nx.At); d > 0 {
				if !r.pause(ctx, s, d) {
					nx = r.feed(s, r.stopInput(ctx))
					continue
				}
			}
			nx = r.observe(ctx, s, false, !nx.Cadence)
		case actSend:
			nx = r.send(ctx, s)
		case actPoll:
			nx = r.observe(ctx, s, true, false)
		case actWaitReady:
			// Busy: give back slot and gate so ready steps go ahead; poll at the cadence.
			r.unready(s)
			r.releaseSlots(s)
			nx = r.observe(ctx, s, false, false)
		case actBackoff:
			if !r.pause(ctx, s, r.limiter.Backoff(r.machineOf(s).Attempt)) {
				nx = r.feed(s, r.stopInput(ctx))
				continue
			}
			nx = r.observe(ctx, s, false, true)
		}
	}
}

func (r *run) phase(s *stepState) Phase { return r.machineOf(s).Phase }

func (r *run) machineOf(s *stepState) machine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return s.m
}

// DefaultLookFreshness is how old the observation a step's call goes out on may be at the
// moment its rate-limit token comes (Options.LookFreshness, `apply --look-freshness`). An
// older verdict is taken again right before the call, however long the step waited. One
// batched look of a group therefore covers every step whose token comes within the bound:
// the steps about to start and those waiting for their tokens ride along in each poll of
// their group (riders), so sends do not cost a look each.
//
// Why 5 s (doc.go says it at length): a look never shows the instance as it is, only as
// the cloud's list shows it, and the lists lag by seconds (each product declares up to a
// minute or two of VisibilityGrace for that lag). Another actor's change made within that
// lag before our call is missed by any look, however fresh; a verdict 5 s old widens that
// blind spot by at most 5 s, under a tenth of the shortest declared grace. It is also more
// than a bucket's gate holds (about a second of its calls), so one look covers a gate's
// worth of token waiters, and at kafka's 2/s an account sends at most 10 calls per look.
const DefaultLookFreshness = 5 * time.Second

// lookFreshness is the bound in force for this run.
func (r *run) lookFreshness() time.Duration {
	if r.opts.LookFreshness > 0 {
		return r.opts.LookFreshness
	}
	return DefaultLookFreshness
}

// notStartedWatch is the step's watch as a not-yet-sent call.
func (r *run) notStartedWatch(s *stepState) provider.Watch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return s.watch(false)
}

// judged is an observation of a step that it did not ask for, and when it was made.
type judged struct {
	p  provider.Progress
	at time.Time
}

func (r *run) takePreJudged(s *stepState) *judged {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := s.preJudged
	s.preJudged = nil
	return p
}

// inFlight reports whether the step's call may have been sent in this run or before.
func inFlight(ph Phase) bool {
	return ph == PhaseSending || ph == PhaseMaybeSent || ph == PhaseAccepted
}

// stopInput is the input for a wait that ended without an answer: the second signal, or
// the stop.
func (r *run) stopInput(ctx context.Context) input {
	if ctx.Err() != nil {
		return input{Kind: inHard}
	}
	why, _ := r.stopped()
	return input{Kind: inStop, Why: orDefault(why, "the run ended")}
}

// pause sleeps d; a step not in flight wakes at the stop. It reports whether it slept
// through.
func (r *run) pause(ctx context.Context, s *stepState, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	stop := r.stopCh
	if inFlight(r.phase(s)) {
		stop = nil
	}
	select {
	case <-t.C:
		return true
	case <-stop:
	case <-ctx.Done():
	}
	return false
}

// observe asks the step's observer about it, once, and feeds the answer. started asks
// about an accepted call (completion, at the polling cadence); otherwise the watch judges
// the instance as not started (urgent: answered by the next Observe). A step not in flight
// gives up at the stop; one in flight is followed after the stop for as long as its polls
// answer, and recorded in doubt once they failed for stopTimeout.
func (r *run) observe(ctx context.Context, s *stepState, started, urgent bool) next {
	for {
		m := r.machineOf(s)
		flying := inFlight(m.Phase)
		wctx, cancel := context.WithCancel(ctx)
		stopAt, stopped := r.stopTime()
		var deadline time.Time
		if flying && stopped {
			deadline = later(stopAt, s.lastOK).Add(r.stopTimeout)
		}
		wake := func() bool { return false }
		if !stopped {
			wake = context.AfterFunc(r.stopCtx, cancel)
		}
		limit := r.timeout
		if deadline.IsZero() || time.Until(deadline) > limit {
			deadline = time.Now().Add(limit)
		}
		wctx, cancelDeadline := context.WithDeadline(wctx, deadline)
		var res observed
		var err error
		o := r.observers[s.group]
		if started {
			f := &followInfo{since: m.Since, est: r.estimates[s.step.Kind+"/"+s.step.Action],
				awaited: func() (bool, time.Duration) { return r.awaited(s) }}
			r.mu.Lock()
			w := s.watch(true)
			succ := s.next
			if succ != nil && succ.m.Phase == PhasePending {
				nw := succ.watch(false)
				f.next = &nw // judged from the answer that shows this step done
			}
			r.mu.Unlock()
			res, err = o.followStep(wctx, w, f)
			if err == nil && f.next != nil && res.next != nil && res.p.State == provider.StateDone {
				r.mu.Lock()
				if succ.m.Phase == PhasePending {
					succ.preJudged = &judged{p: *res.next, at: time.Now()}
				}
				r.mu.Unlock()
			}
		} else {
			r.mu.Lock()
			w := s.watch(false)
			r.mu.Unlock()
			var p provider.Progress
			p, err = o.observe(wctx, w, urgent)
			res.p = p
		}
		cancelDeadline()
		wake()
		cancel()
		switch {
		case err == nil:
			s.lastOK = time.Now()
			s.setJudged(s.lastOK)
			kind := inLook
			if started {
				kind = inPoll
				if res.p.State == provider.StateDone {
					r.estimates[s.step.Kind+"/"+s.step.Action].add(time.Since(m.Since))
				}
			}
			return r.feed(s, input{Kind: kind, P: r.dryRunView(s, res.p)})
		case ctx.Err() != nil:
			return r.feed(s, input{Kind: inHard})
		}
		if _, nowStopped := r.stopped(); nowStopped && !stopped {
			if !flying {
				return r.feed(s, r.stopInput(ctx))
			}
			continue // the stop came: follow it under the stop's deadline
		}
		if flying && stopped && !time.Now().Before(later(stopAt, s.lastOK).Add(r.stopTimeout)) {
			return r.feed(s, input{Kind: inStopTimeout, Err: err})
		}
		nx := r.feed(s, input{Kind: inLookFailed, Err: err})
		if nx.Act == actLook || nx.Act == actAcquire {
			// A read that failed through the Limiter's retries: let the cloud breathe.
			if !r.pause(ctx, s, r.limiter.Backoff(3)) && r.phase(s) != PhaseFinal {
				return r.feed(s, r.stopInput(ctx))
			}
		}
		return nx
	}
}

func (r *run) stopTime() (time.Time, bool) {
	if _, ok := r.stopped(); !ok {
		return time.Time{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopAt, true
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// dryRunView shows a dry run's step the instance as if the chained steps before it, which a
// dry run never sends, had reached their `to`.
func (r *run) dryRunView(s *stepState, p provider.Progress) provider.Progress {
	if !r.opts.DryRun || s.prev == nil || p.Observed == nil || p.State == provider.StateMissing || p.State == provider.StateFailed {
		return p
	}
	if r.statusOf(s.prev) != StatusSucceeded {
		return p
	}
	vals := provider.Values{}
	for k, v := range p.Observed {
		vals[k] = v
	}
	var chain []*stepState
	for prev := s.prev; prev != nil; prev = prev.prev {
		chain = append(chain, prev)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		for k, v := range chain[i].step.To {
			vals[k] = v
		}
	}
	phase := provider.PhaseReady
	if p.State == provider.StateWaiting || p.State == provider.StateInProgress {
		phase = provider.PhaseBusy
	}
	state, _ := provider.JudgeNotStarted(s.watch(false), vals, phase)
	p.State, p.Observed, p.Message = state, vals, ""
	if state == provider.StateDrifted {
		p.Message = "live state, with the steps before it applied, no longer matches the plan's from"
	}
	return p
}

func (r *run) statusOf(s *stepState) Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return s.rec.Status
}

// send makes the step's mutating call. The send guard journals the intent right before the
// request leaves (after its rate-limit token) and refuses once the run stopped.
func (r *run) send(ctx context.Context, s *stepState) next {
	prov := r.provs[s.group]
	r.mu.Lock()
	call := provider.Call{Instance: s.step.Instance, Action: s.step.Action, Params: s.step.Params, ClientToken: s.rec.ClientToken}
	intent := s.intent
	s.intent = nil
	r.mu.Unlock()
	if r.opts.DryRun {
		// The step's ClientToken is for its real call: a cloud that keeps a dry run's token
		// would refuse (or replay) that call later. A dry run changes nothing; it has none.
		call.DryRun, call.ClientToken = true, ""
		if ok, _ := r.acquireSlots(ctx, s, r.stopCh); !ok {
			r.unready(s)
			return r.feed(s, r.stopInput(ctx))
		}
		_, err := applySafely(ctx, prov, call)
		r.unready(s)
		return r.feed(s, input{Kind: inAnswer, Err: err})
	}
	written := false
	guard := &sendGuard{stop: r.stopCtx, before: func() error {
		if why := r.mayStart(); why != "" {
			return &notSentError{why: why}
		}
		if written {
			// A resend after a throttling answer: its intent is on disk, but the hold on
			// the run that licensed it may have been lost since (another runner may have
			// taken the run and read that intent as maybe sent).
			if f, ok := r.state.(Fenced); ok {
				if err := f.Confirm(ctx); err != nil {
					r.journalFailed(err)
					return &notSentError{why: "the run's lock was lost before the resend: " + err.Error()}
				}
			}
			return nil
		}
		if err := r.judgeAndTakeSlot(ctx, s); err != nil {
			return err
		}
		s.tokenWait.Store(false)
		e := *intent
		e.StepID, e.ClientToken, e.Params = s.step.ID, call.ClientToken, call.Params
		if err := r.write(e); err != nil {
			r.journalFailed(err)
			return &notSentError{why: "the journal could not record the call's intent: " + err.Error()}
		}
		written = true
		now := time.Now().UTC()
		r.mu.Lock()
		s.rec.Attempts++
		if s.rec.StartedAt == nil || s.rec.Attempts == 1 {
			// Started: its first call (running since it waited for its token and slot).
			s.rec.StartedAt = &now
		}
		s.m.CallAt = now
		r.mu.Unlock()
		return nil
	}}
	r.mu.Lock()
	s.sendVerdict = nil
	r.mu.Unlock()
	s.tokenWait.Store(true)
	r.observers[s.group].addTokenWaiter(s)
	receipt, err := applySafely(withSendGuard(ctx, guard), prov, call)
	s.tokenWait.Store(false)
	r.mu.Lock()
	s.sendVerdict = nil
	r.mu.Unlock()
	r.unready(s)
	var ns *notSentError
	switch {
	case errors.As(err, &ns) && ns.rejudge:
		nx := r.feed(s, input{Kind: inRejudge, P: ns.p, Err: ns.err})
		if r.phase(s) == PhasePending {
			r.releaseSlots(s) // nothing sent: the slot is for a call and its change
		}
		return nx
	case errors.As(err, &ns):
		why := ns.why
		if stopWhy, ok := r.stopped(); ok && why == errStoppedWaiting {
			why = stopWhy + " (" + why + ")"
		}
		return r.feed(s, input{Kind: inNotSent, Why: why, Written: written})
	case !written && err != nil && ctx.Err() != nil:
		return r.feed(s, input{Kind: inNotSent, Why: "the run was ended before the call was sent"})
	case written && ctx.Err() != nil && !answered(err):
		return r.feed(s, input{Kind: inHard})
	}
	r.mu.Lock()
	rid := receipt.RequestID
	if pe, ok := provider.AsError(err); ok && pe.RequestID != "" {
		rid = pe.RequestID
	}
	if rid != "" {
		s.rec.RequestIDs = append(s.rec.RequestIDs, rid)
	}
	if receipt.OrderID != "" {
		s.rec.OrderID = receipt.OrderID
	}
	if receipt.OrderName != "" {
		s.rec.OrderName = receipt.OrderName
	}
	r.mu.Unlock()
	return r.feed(s, input{Kind: inAnswer, Receipt: receipt, Err: err})
}

// answered says whether a call's outcome is the cloud's answer (a success, or an error
// carrying its request id), which the record keeps even when the run was ended while the
// call was in flight; anything else (the context's own error, a lost connection) is not.
func answered(err error) bool {
	if err == nil {
		return true
	}
	pe, ok := provider.AsError(err)
	return ok && pe.RequestID != ""
}

// feed runs one transition of the step's machine and persists it (journal entries, then
// the step's record) before the driver acts on it.
func (r *run) feed(s *stepState, in input) next {
	if in.At.IsZero() {
		in.At = time.Now()
	}
	if why, ok := r.stopped(); ok {
		in.Stopping = true
		if in.Why == "" {
			in.Why = why
		}
	}
	r.mu.Lock()
	before := s.m
	m, entries, nx := advance(s.m, s.cfg, in)
	m.Before, m.After = r.observed.share(m.Before), r.observed.share(m.After)
	s.m = m
	r.mu.Unlock()
	r.persist(s, before, entries)
	return nx
}

// persist writes a transition's entries (an intent is kept for the send guard) and, when
// the step's status changed, its record; then tells OnEvent.
func (r *run) persist(s *stepState, before machine, entries []Entry) {
	for _, e := range entries {
		if e.Type == EntryIntent {
			r.mu.Lock()
			c := e
			s.intent = &c
			r.mu.Unlock()
			continue
		}
		e.StepID = s.step.ID
		if err := r.write(e); err != nil {
			r.journalFailed(err)
		}
	}
	r.mu.Lock()
	m := s.m
	changed := r.syncRecord(s)
	var stopWhy string
	if m.Phase == PhaseFinal && before.Phase != PhaseFinal && m.Status == StatusFailed {
		stopWhy = r.countFailure()
	}
	r.mu.Unlock()
	if !changed {
		return
	}
	r.snapshot(s)
	msg := m.Reason
	if m.Error != nil && m.Phase == PhaseFinal {
		msg = joinNotes(m.Reason, m.Error.String())
	}
	r.emit(s, r.statusOf(s), msg)
	if stopWhy != "" {
		r.stop(stopWhy)
	}
}

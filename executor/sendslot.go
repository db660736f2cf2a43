package executor

// This file is what the send guard does between a call's rate-limit token and its intent:
// take the step's slots and make sure the verdict the call goes out on is fresh.

import (
	"context"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// judgeAndTakeSlot runs in the send guard of a step's first send, after its rate-limit
// token: it takes the step's slots (maxConcurrent, parallelism) and makes sure the call
// goes out on a verdict at most the look freshness bound old. A slot is waited for only as
// long as the verdict stays fresh, without one while the verdict is renewed (from a poll
// of the group the step rode in, or a look of its own), so a step never holds a slot
// while it waits for a look, and the slot is taken at the last moment: parallelism counts
// the steps between their call and their seen completion, nothing before. A step already
// holding its slot (a resend after a lost answer) only has its verdict checked.
//
// Where a verdict costs a read of its own (provider.Spec.ReadPerWatch: MongoDB's kernel),
// the slot comes first and the verdict after: renewing the verdict of a step that waits
// longer than the bound for its slot would read the instance again and again (a step at
// parallelism 3 read its kernel up to four times before its call), so such a step waits
// for its slot without riding the group's polls and then takes the one look its call needs.
// Such a step normally holds its slot already: it took it before its first look, at its
// bucket's gate (driver.go); the wait here covers a step judged by the refresh or a poll.
func (r *run) judgeAndTakeSlot(ctx context.Context, s *stepState) error {
	if s.spec.ReadPerWatch {
		if err := r.takeSlotFirst(ctx, s); err != nil {
			return err
		}
	}
	for {
		if err := r.checkVerdict(ctx, s); err != nil {
			return err
		}
		r.mu.Lock()
		held := s.slotHeld
		r.mu.Unlock()
		if held {
			return nil
		}
		wctx, cancel := context.WithDeadline(ctx, s.judgedAt().Add(r.lookFreshness()))
		ok, _ := r.acquireSlots(wctx, s, r.stopCh)
		cancel()
		switch {
		case ok:
			// Held now: the verdict is checked once more (a look only if it aged meanwhile).
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			if _, stopped := r.stopped(); stopped {
				return &notSentError{why: errStoppedWaiting}
			}
			// The verdict aged while the step waited: renew it, then wait again.
		}
	}
}

// checkVerdict takes the verdict a poll of the group gave the step while it waited for its
// token or slot, if newer than its own, and looks again if the verdict is older than the
// bound (the look judges the group's other waiters too). It refuses the call (a
// *notSentError) when the instance no longer shows ready or the look failed.
func (r *run) checkVerdict(ctx context.Context, s *stepState) error {
	r.mu.Lock()
	v := s.sendVerdict
	s.sendVerdict = nil
	r.mu.Unlock()
	if v != nil && v.at.After(s.judgedAt()) {
		s.setJudged(v.at)
		if p := r.dryRunView(s, v.p); p.State != provider.StatePending {
			return &notSentError{why: "the instance changed while the call waited for its token", rejudge: true, p: p}
		}
	}
	if time.Since(s.judgedAt()) < r.lookFreshness() {
		return nil // (at the bound itself it looks again: the slot wait ends there)
	}
	p, err := r.observers[s.group].observe(ctx, r.notStartedWatch(s), true)
	if err != nil {
		return &notSentError{why: "the look right before the call failed", rejudge: true, err: err}
	}
	s.setJudged(time.Now())
	if p = r.dryRunView(s, p); p.State != provider.StatePending {
		return &notSentError{why: "the instance changed while the call waited for its token", rejudge: true, p: p}
	}
	if why := r.mayStart(); why != "" {
		return &notSentError{why: why}
	}
	return nil
}

// takeSlotFirst waits for the step's slots with no verdict deadline and without riding the
// group's polls (not a token waiter meanwhile); the caller then checks the verdict.
func (r *run) takeSlotFirst(ctx context.Context, s *stepState) error {
	s.tokenWait.Store(false)
	defer s.tokenWait.Store(true)
	ok, _ := r.acquireSlots(ctx, s, r.stopCh)
	switch {
	case ok:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		return &notSentError{why: errStoppedWaiting}
	}
}

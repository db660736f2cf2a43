package executor

// This file takes the instance leases: before a step judges its instance for its call, its
// runner takes the lease on (cloud, region, instance) from the run state, held until the
// step ends, so no two runs that share a state (the PostgreSQL backend) touch one instance
// at once. A step whose instance another run holds waits, saying so, and fails naming the
// holder once it waited for its stepTimeout.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// leaseRetry is how often a step waiting for another run's lease on its instance asks again.
var leaseRetry = time.Second

// LeaseCode is the error code of a step that gave up waiting for an instance's lease.
const LeaseCode = "InstanceLeased"

func (s *stepState) instanceKey() InstanceKey {
	cloud, _, _ := strings.Cut(s.step.Kind, ".")
	return InstanceKey{Cloud: cloud, Account: s.step.Account, Region: s.step.Region, Instance: s.step.Instance}
}

// takeLease takes the step's instance lease unless it holds it (or this is a dry run). It
// reports false when the run stopped (with the input to feed) or the wait ran past
// stepTimeout (the step failed).
func (r *run) takeLease(ctx context.Context, s *stepState, inFlight bool) (bool, input) {
	if r.opts.DryRun || s.lease != nil {
		return true, input{}
	}
	return r.waitLease(ctx, s, inFlight)
}

func (r *run) waitLease(ctx context.Context, s *stepState, inFlight bool) (bool, input) {
	key := s.instanceKey()
	began := time.Now()
	shown := ""
	for {
		release, holder, err := r.state.Lease(ctx, key, s.step.ID)
		if err == nil && release != nil {
			s.lease = release
			if shown != "" {
				// Another run held the instance since that verdict: look again.
				r.takePreJudged(s)
				r.emit(s, r.statusOf(s), "instance "+key.String()+" leased after waiting "+time.Since(began).Round(time.Second).String())
			}
			return r.afterForeignChange(ctx, s, key)
		}
		why := "waiting for instance " + key.String() + ": leased by " + holder
		if err != nil {
			why = "waiting for the lease of instance " + key.String() + ": " + err.Error()
		}
		if why != shown {
			r.emit(s, r.statusOf(s), why)
			shown = why
		}
		if time.Since(began) >= r.timeout {
			msg := fmt.Sprintf("instance %s was leased by %s for longer than stepTimeout %s; nothing was sent", key, holder, r.timeout)
			if err != nil {
				msg = fmt.Sprintf("the lease of instance %s could not be taken within stepTimeout %s: %v; nothing was sent", key, r.timeout, err)
			}
			r.mu.Lock()
			s.m = final(s.m, StatusFailed, "", &StepError{Class: provider.ClassPermanent, Code: LeaseCode, Message: msg})
			r.mu.Unlock()
			r.persist(s, machine{}, nil)
			return false, input{}
		}
		t := time.NewTimer(leaseRetry)
		stop := r.stopCh
		if inFlight {
			stop = nil
		}
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return false, r.stopInput(ctx)
		case <-ctx.Done():
			t.Stop()
			return false, input{Kind: inHard}
		}
	}
}

// afterForeignChange holds a step that just took its lease until another run's change of
// the instance, if one let the lease go less than the kind's visibility grace ago, can
// show in reads (a change the other run's step saw finish may still read as before for
// that long), dropping the verdict the step held. A state that cannot say (not
// ForeignChanges, not the run directory) drops it too.
func (r *run) afterForeignChange(ctx context.Context, s *stepState, key InstanceKey) (bool, input) {
	fc, ok := r.state.(ForeignChanges)
	if !ok {
		if _, local := r.state.(*dirRun); !local {
			r.takePreJudged(s)
		}
		return true, input{}
	}
	at := fc.ForeignChange(key)
	if at.IsZero() {
		return true, input{}
	}
	r.takePreJudged(s)
	if d := time.Until(at.Add(s.cfg.Grace)); d > 0 {
		r.emit(s, r.statusOf(s), fmt.Sprintf("instance %s was changed by another run's step %s ago: judging it once the change can show (%s, its visibility grace)",
			key, time.Since(at).Round(time.Millisecond), s.cfg.Grace))
		if !r.pause(ctx, s, d) {
			return false, r.stopInput(ctx)
		}
		r.takePreJudged(s) // one a poll left meanwhile may be from before the change showed
	}
	return true, input{}
}

// releaseLease gives the step's instance lease back (the step ended in this segment).
func (r *run) releaseLease(s *stepState) {
	if s.lease != nil {
		s.lease()
		s.lease = nil
	}
}

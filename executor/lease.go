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
			if _, local := r.state.(*dirRun); !local || shown != "" {
				// Another run may have changed the instance since that verdict, even
				// within the look freshness bound (a fast change between two leases): look again.
				r.takePreJudged(s)
			}
			if shown != "" {
				r.emit(s, r.statusOf(s), "instance "+key.String()+" leased after waiting "+time.Since(began).Round(time.Second).String())
			}
			return true, input{}
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

// releaseLease gives the step's instance lease back (the step ended in this segment).
func (r *run) releaseLease(s *stepState) {
	if s.lease != nil {
		s.lease()
		s.lease = nil
	}
}

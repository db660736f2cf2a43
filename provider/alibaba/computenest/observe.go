package computenest

import (
	"context"
	"fmt"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// StartGrace is alibaba.computenest's start grace (provider.Spec.StartGrace): how long after
// an accepted UpgradeServiceInstance an instance may still be Deployed at its old version
// before the step fails as never started. ListServiceInstances documents no status for a
// failed upgrade (its Status enum: Created, Deploying, DeployedFailed, Deployed, Upgrading,
// Deleting, Deleted), so one that rolls back to Deployed at the old version, or a call that
// never took effect, looks like this; without a grace such a step waited for stepTimeout.
// As for the other products, longer than the visibility grace (a minute).
const StartGrace = 2 * time.Minute

// Observe reads the watched instances with ServiceInstanceId filters (10 ids per call), or
// pages the region where that takes fewer calls (provider.RegionSize.ByID).
func (p *Provider) Observe(ctx context.Context, watches []provider.Watch) ([]provider.Progress, error) {
	ids := provider.WatchedInstances(watches)
	if len(ids) == 0 {
		return nil, nil
	}
	if !p.size.ByID((len(ids)+maxFilterValues-1)/maxFilterValues, 0, pageSize, 1) {
		ids = nil
	}
	insts, err := p.list(ctx, ids, nil)
	if err != nil {
		return nil, err
	}
	missing := func(id string) string { return fmt.Sprintf("service instance %s is not in %s any more", id, p.region) }
	now := time.Now()
	return provider.JudgeEach(watches, provider.IndexByID(insts), missing, func(w provider.Watch, inst provider.Instance) provider.Progress {
		return progress(w, inst, now)
	}), nil
}

func progress(w provider.Watch, inst provider.Instance, now time.Time) provider.Progress {
	pr := provider.Progress{Instance: w.Instance, Status: inst.Status,
		Observed: provider.Values{valueVersion: inst.Values[valueVersion]}}
	_, atTarget := provider.Matches(inst.Values, w.To)
	off, atFrom := provider.Matches(inst.Values, w.From) // off: the first field not at from
	switch {
	case inst.Phase == provider.PhaseFailed:
		pr.State = provider.StateFailed
		pr.Message = fmt.Sprintf("service instance %s is %s at version %v", w.Instance, inst.Status, inst.Values[valueVersion])
	case inst.Status == statusDeployed && atTarget:
		pr.State = provider.StateDone
	case w.Started && inst.Status == statusDeployed && !atFrom:
		// Deployed at neither version: someone else's upgrade. No grace applies, since a
		// list that lags behind the call only ever shows the old state.
		pr.State = provider.StateFailed
		pr.Message = fmt.Sprintf("service instance %s is Deployed and its %s is %v; the plan moved %v → %v (changed by someone else?)",
			w.Instance, off, inst.Values[off], w.From[off], w.To[off])
	case w.Started && inst.Status == statusDeployed && atFrom && !w.Since.IsZero() && !provider.WithinStartGrace(w, now, StartGrace):
		pr.State = provider.StateFailed
		pr.Message = fmt.Sprintf("service instance %s is still Deployed at version %v %s: the upgrade never started or rolled back",
			w.Instance, inst.Values[valueVersion], provider.SinceCall(w, now, StartGrace))
	case w.Started:
		pr.State = provider.StateInProgress
	case inst.Phase == provider.PhaseBusy:
		pr.State = provider.StateWaiting
	case !atFrom:
		pr.State = provider.StateDrifted
		pr.Message = fmt.Sprintf("%s is %v, the plan expected %v", off, inst.Values[off], w.From[off])
	default:
		pr.State = provider.StatePending
	}
	return pr
}

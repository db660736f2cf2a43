package computenest

import (
	"context"
	"fmt"

	"github.com/upgradeplan/upgradeplan/provider"
)

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
	return provider.JudgeEach(watches, provider.IndexByID(insts), missing, progress), nil
}

func progress(w provider.Watch, inst provider.Instance) provider.Progress {
	pr := provider.Progress{Instance: w.Instance, Status: inst.Status,
		Observed: provider.Values{valueVersion: inst.Values[valueVersion]}}
	_, atTarget := provider.Matches(inst.Values, w.To)
	switch {
	case inst.Phase == provider.PhaseFailed:
		pr.State = provider.StateFailed
		pr.Message = fmt.Sprintf("service instance %s is %s at version %v", w.Instance, inst.Status, inst.Values[valueVersion])
	case inst.Status == statusDeployed && atTarget:
		pr.State = provider.StateDone
	case w.Started:
		pr.State = provider.StateInProgress
	case inst.Phase == provider.PhaseBusy:
		pr.State = provider.StateWaiting
	default:
		if f, ok := provider.Matches(inst.Values, w.From); !ok {
			pr.State = provider.StateDrifted
			pr.Message = fmt.Sprintf("%s is %v, the plan expected %v", f, inst.Values[f], w.From[f])
		} else {
			pr.State = provider.StatePending
		}
	}
	return pr
}

package rabbitmq

import (
	"context"
	"fmt"

	"github.com/upgradeplan/upgradeplan/provider"
)

// Observe reports every watch from ListInstances pages; GetInstance is added for a watch
// only when its from/to names a field the list lacks (and, once started, only when the
// list shows the instance SERVING again, since DEPLOYING already says "in progress").
func (p *Provider) Observe(ctx context.Context, watches []provider.Watch) ([]provider.Progress, error) {
	all, err := p.listAll(ctx)
	if err != nil {
		return nil, err
	}
	byID := provider.IndexByID(all)
	detailed := map[string]provider.Instance{}
	out := make([]provider.Progress, len(watches))
	for i, w := range watches {
		inst, ok := byID[w.Instance]
		if !ok {
			out[i] = provider.Progress{Instance: w.Instance, State: provider.StateMissing,
				Message: fmt.Sprintf("instance %s is not in %s any more", w.Instance, p.region)}
			continue
		}
		if (needsDetail(w.To) || needsDetail(w.From)) && (!w.Started || inst.Status == statusServing) {
			d, seen := detailed[w.Instance]
			if !seen {
				detail, err := p.getInstance(ctx, w.Instance)
				if err != nil {
					return nil, err
				}
				d = withDetail(inst, detail)
				detailed[w.Instance] = d
			}
			inst = d
		}
		out[i] = progress(w, inst)
	}
	return out, nil
}

// progress decides one watch from the instance's observed state.
func progress(w provider.Watch, inst provider.Instance) provider.Progress {
	pr := provider.Progress{Instance: w.Instance, Status: inst.Status, Observed: observedOf(inst.Values, w)}
	field, matches := provider.Matches(inst.Values, w.To)
	switch {
	case inst.Phase == provider.PhaseFailed:
		pr.State = provider.StateFailed
		pr.Message = fmt.Sprintf("instance %s is %s", w.Instance, inst.Status)
	case !w.Started:
		var f string
		pr.State, f = provider.JudgeNotStarted(w, inst.Values, inst.Phase)
		if pr.State == provider.StateDrifted {
			pr.Message = fmt.Sprintf("%s is %v, the plan expected %v", f, inst.Values[f], w.From[f])
		}
	case inst.Status == statusServing && matches:
		pr.State = provider.StateDone
	default:
		pr.State = provider.StateInProgress
		if inst.Status == statusServing {
			pr.Message = fmt.Sprintf("%s is %v, waiting for %v", field, inst.Values[field], w.To[field])
		}
	}
	return pr
}

// observedOf returns the observed values of the fields the watch names.
func observedOf(vals provider.Values, w provider.Watch) provider.Values {
	out := provider.Values{}
	for _, m := range []provider.Values{w.From, w.To} {
		for k := range m {
			if v, ok := vals[k]; ok {
				out[k] = v
			}
		}
	}
	return out
}

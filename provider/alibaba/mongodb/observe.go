package mongodb

import (
	"context"
	"fmt"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// StartGrace is how long after an accepted call an instance may still show Running on its
// old kernel before that counts as a failed upgrade: the status may change a moment after
// the API answers. dds has no failed status; a failed kernel upgrade rolls back to Running
// on the old kernel, which is what this catches once the grace has passed.
const StartGrace = 2 * time.Minute

// Observe reports every watch from one paged DescribeDBInstances read of the region per
// DBInstanceType (replica sets, then sharded clusters).
func (p *Provider) Observe(ctx context.Context, watches []provider.Watch) ([]provider.Progress, error) {
	if len(watches) == 0 {
		return nil, nil
	}
	obs, err := p.list(ctx, provider.WatchedInstances(watches), nil)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]observed, len(obs))
	for _, o := range obs {
		byID[o.id] = o
	}
	now := time.Now()
	missing := func(id string) string {
		return fmt.Sprintf("instance %s is not in DescribeDBInstances for %s", id, p.region)
	}
	return provider.JudgeEach(watches, byID, missing, func(w provider.Watch, o observed) provider.Progress {
		return progress(w, o, now)
	}), nil
}

func progress(w provider.Watch, o observed, now time.Time) provider.Progress {
	pr := provider.Progress{Instance: w.Instance, Status: o.status, Observed: provider.Values{"kernelVersion": o.kernel}}
	want, _ := w.To["kernelVersion"].(string)
	from, _ := w.From["kernelVersion"].(string)
	set := func(s provider.State, format string, args ...any) provider.Progress {
		pr.State = s
		if format != "" {
			pr.Message = fmt.Sprintf(format, args...)
		}
		return pr
	}
	if !w.Started {
		switch {
		case o.kernel == want:
			return set(provider.StateDone, "")
		case o.kernel != from:
			return set(provider.StateDrifted, "instance %s runs kernel %s; the plan expected %s", w.Instance, o.kernel, from)
		case o.status == StatusRunning:
			return set(provider.StatePending, "")
		}
		return set(provider.StateWaiting, "instance %s is %s; UpgradeDBInstanceKernelVersion needs it Running", w.Instance, o.status)
	}
	switch {
	case o.status != StatusRunning:
		return set(provider.StateInProgress, "")
	case o.kernel == want:
		return set(provider.StateDone, "")
	case o.kernel == from && !w.Since.IsZero() && now.Sub(w.Since) < StartGrace:
		return set(provider.StateInProgress, "")
	}
	return set(provider.StateFailed, "instance %s is Running on kernel %s after the upgrade; the plan expected %s", w.Instance, o.kernel, want)
}

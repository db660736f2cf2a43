package mongodb

import (
	"context"
	"fmt"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// StartGrace is alibaba.mongodb's start grace (provider.Spec.StartGrace): how long after an
// accepted call an instance may still show Running on its old kernel before the step
// fails as never started. The status may change a moment after the API answers; dds has
// no failed status, and a failed kernel upgrade rolls back to Running on the old kernel,
// which is what this catches once the grace has passed. A step planned for the maintenance
// window (SwitchMode=1) has no start grace: it may start hours later, within stepTimeout.
const StartGrace = 2 * time.Minute

// Observe reports every watch. DescribeDBInstances filters by one DBInstanceId or by
// DBInstanceStatus and has no kernel version; DescribeDBInstanceAttribute answers one id
// with status and kernel. A watch not yet started is judged on its kernel: one
// DescribeDBInstanceAttribute each. A started watch needs the kernel only once its instance
// is Running again (any other status is the upgrade in progress), so the steps followed
// come from DescribeDBInstances narrowed to MinorVersionUpgrading (and to the
// DBInstanceTypes they are, known from earlier reads; both otherwise): its pages are those
// of the upgrades under way, not the region's, and only a followed instance it does not
// show gets a DescribeDBInstanceAttribute, which is the step's confirmation when the
// upgrade is over. That list is taken unless fewer steps are followed than it has pages
// (provider.RegionSize.ByID, from the count the last such list found). A step then costs
// one kernel read before its call and one to confirm its new kernel, however often its
// completion is checked; the executor's share of MongoDB polls is bounded below by that
// confirmation (bench/RESULTS.md, "forced reads"). Why a list rather than the confirmation
// read alone at the time the duration estimate names: the estimate is the shortest
// completion seen, so with durations spread most such reads would find the upgrade still
// running, each a read of the 10/s bucket that bounds MongoDB (two forced reads per step),
// while a list page spends the list's own bucket and covers a hundred steps (see
// observeRead).
func (p *Provider) Observe(ctx context.Context, watches []provider.Watch) ([]provider.Progress, error) {
	if len(watches) == 0 {
		return nil, nil
	}
	obs, err := p.observeRead(ctx, watches)
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
	pr := provider.Progress{Instance: w.Instance, Status: o.status}
	if o.kernel != "" {
		pr.Observed = provider.Values{FieldKernel: o.kernel}
	}
	want, _ := w.To[FieldKernel].(string)
	from, _ := w.From[FieldKernel].(string)
	set := func(s provider.State, format string, args ...any) provider.Progress {
		pr.State = s
		if format != "" {
			pr.Message = fmt.Sprintf(format, args...)
		}
		return pr
	}
	if o.status != StatusRunning {
		if w.Started {
			return set(provider.StateInProgress, "")
		}
		return set(provider.StateWaiting, "instance %s is %s; UpgradeDBInstanceKernelVersion needs it Running", w.Instance, o.status)
	}
	atTo, atFrom := sameKernel(o.kernel, want), sameKernel(o.kernel, from)
	if !w.Started {
		switch {
		case atTo:
			return set(provider.StateDone, "")
		case !atFrom:
			return set(provider.StateDrifted, "instance %s runs kernel %s; the plan expected %s", w.Instance, o.kernel, from)
		}
		return set(provider.StatePending, "")
	}
	switch {
	case atTo:
		return set(provider.StateDone, "")
	case atFrom && (inMaintenanceWindow(w.To) || provider.WithinStartGrace(w, now, StartGrace)):
		return set(provider.StateInProgress, "")
	case atFrom:
		return set(provider.StateFailed, "instance %s is still Running on kernel %s %s: the upgrade to %s never started or rolled back",
			w.Instance, o.kernel, provider.SinceCall(w, now, StartGrace), want)
	}
	return set(provider.StateFailed, "instance %s is Running on kernel %s after the upgrade; the plan expected %s", w.Instance, o.kernel, want)
}

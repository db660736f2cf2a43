package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// StartGrace is alibaba.kafka's start grace (provider.Spec.StartGrace): how long after an
// accepted call an instance may still show running at its old version before the step
// fails as never started. The API may report the new status a moment after answering.
const StartGrace = 2 * time.Minute

// Observe reports every watch from one GetInstanceList call covering the watched ids.
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
		return fmt.Sprintf("instance %s is not in GetInstanceList for %s", id, p.region)
	}
	return provider.JudgeEach(watches, byID, missing, func(w provider.Watch, o observed) provider.Progress {
		return progress(w, o, now)
	}), nil
}

func progress(w provider.Watch, o observed, now time.Time) provider.Progress {
	pr := provider.Progress{Instance: w.Instance, Status: statusName(o.view), Observed: provider.Values{"version": o.version}}
	want, _ := w.To["version"].(string)
	from, _ := w.From["version"].(string)
	minor := isMinorStep(w.To)
	set := func(s provider.State, format string, args ...any) provider.Progress {
		pr.State = s
		if format != "" {
			pr.Message = fmt.Sprintf(format, args...)
		}
		return pr
	}

	if !w.Started {
		// The status before the version: an instance at the target that is still busy is
		// not done yet, and one whose last workflow failed is not done at all.
		switch {
		case phase(o.view) == provider.PhaseFailed:
			return set(provider.StateFailed, "instance %s reports %s (ViewInstanceStatusCode %d) at %s; resolve it before upgrading again", w.Instance, statusName(o.view), o.view, o.version)
		case !minor && o.version == want && o.view == viewRunning:
			return set(provider.StateDone, "")
		case !minor && o.version == want:
			return set(provider.StateWaiting, "instance %s already shows %s but is %s; waiting for it to run", w.Instance, want, statusName(o.view))
		case o.version != from:
			return set(provider.StateDrifted, "instance %s runs %s; the plan expected %s", w.Instance, o.version, from)
		case o.view == viewRunning:
			return set(provider.StatePending, "")
		}
		return set(provider.StateWaiting, "instance %s is %s; waiting for it to run", w.Instance, statusName(o.view))
	}

	switch {
	case phase(o.view) == provider.PhaseFailed:
		return set(provider.StateFailed, "instance %s reports %s (ViewInstanceStatusCode %d); version %s, wanted %s", w.Instance, statusName(o.view), o.view, o.version, want)
	case o.view != viewRunning:
		return set(provider.StateInProgress, "")
	case o.version == want:
		// Running at the target: a major upgrade shows the new version; a latestMinor step
		// is done once the instance runs again after the call.
		return set(provider.StateDone, "")
	case o.version == from && provider.WithinStartGrace(w, now, StartGrace):
		return set(provider.StateInProgress, "")
	case o.version == from:
		return set(provider.StateFailed, "instance %s is still running %s %s: the upgrade to %s never started",
			w.Instance, o.version, provider.SinceCall(w, now, StartGrace), want)
	}
	return set(provider.StateFailed, "instance %s is running %s after the upgrade; wanted %s", w.Instance, o.version, want)
}

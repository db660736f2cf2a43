package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// StartGrace is alibaba.rabbitmq's start grace (provider.Spec.StartGrace): how long after an
// accepted UpdateInstance the instance may still show SERVING at its old spec before the
// change counts as over without having taken effect.
const StartGrace = 2 * time.Minute

// Observe reports every watch from the cheaper of two reads. ListInstances has no id, tag
// or status filter (MaxResults of at most 100, NextToken, ResourceGroupId), but GetInstance
// answers one id with every field the list has and those it lacks: so the by-id form is one
// GetInstance per watched instance (k calls for k instances). The region form pages
// ListInstances (100 per call, the largest page) only until every watched instance was
// seen, and adds GetInstance for a watch only when its from/to names a field the list lacks
// (and, once started, only when the list shows the instance SERVING again, since DEPLOYING
// already says "in progress"). Observe takes the by-id form unless the region form costs
// less: the pages up to the one that held the last watched instance in the last read that
// reached it (listPages), else the region's pages from its recorded size, plus those
// GetInstance calls. Why pages rather than GetInstance per step at the time its duration
// estimate names: a page answers for a hundred instances, the steps in flight and those
// about to start ride along, so a poll of 50 steps costs a few pages instead of 50 calls,
// and the estimate is the shortest completion seen, so timed reads would mostly find
// the change still running. The pages before the first watched instance cannot be left
// out: NextToken is opaque, and only a read from the start proves an instance missing.
// A verdict of the region form that ends a step (an instance missing, a started change
// failed) or licenses a resend (a lost answer's instance untouched) is confirmed with
// GetInstance first, since the list trails it.
func (p *Provider) Observe(ctx context.Context, watches []provider.Watch) ([]provider.Progress, error) {
	if len(watches) == 0 {
		return nil, nil
	}
	byID, detailed, listed, err := p.observeRead(ctx, watches)
	if err != nil {
		return nil, err
	}
	out := make([]provider.Progress, len(watches))
	for i, w := range watches {
		inst, ok := byID[w.Instance]
		detail := (needsDetail(w.To) || needsDetail(w.From)) && (!ok || !w.Started || inst.Status == statusServing)
		if listed && (!ok || detail || decisive(w, progress(w, inst, p.seenBusy(w), time.Now()).State)) {
			// From GetInstance, whole: its fields the list lacks, and a verdict that ends
			// the step or licenses a resend. ListInstances is served from an index that
			// trails GetInstance, so a change GetInstance showed DEPLOYING may still be
			// SERVING at the old spec there, and an instance may be missing from one
			// paged pass; a detail read merged onto the list's status would trail too.
			confirmed, found, err := p.confirm(ctx, w.Instance, detailed)
			if err != nil {
				return nil, err
			}
			inst, ok = confirmed, found
		}
		if !ok {
			out[i] = provider.Progress{Instance: w.Instance, State: provider.StateMissing,
				Message: fmt.Sprintf("instance %s is not in %s any more", w.Instance, p.region)}
			continue
		}
		if w.Started && inst.Phase == provider.PhaseBusy {
			p.sawBusy(w)
		}
		out[i] = progress(w, inst, p.seenBusy(w), time.Now())
	}
	return out, nil
}

// decisive says whether a verdict from the list may not be taken without GetInstance: a
// started change failed, or a call whose answer was lost seen untouched (pending), on
// which the executor resends it once the grace has passed.
func decisive(w provider.Watch, s provider.State) bool {
	return (w.Started && s == provider.StateFailed) || (!w.Started && w.MaySent && s == provider.StatePending)
}

// confirm reads one instance with GetInstance unless this Observe already did (detailed,
// which it fills): found is false when amqp-open does not know the id.
func (p *Provider) confirm(ctx context.Context, id string, detailed map[string]provider.Instance) (provider.Instance, bool, error) {
	if d, seen := detailed[id]; seen {
		return d, true, nil
	}
	d, err := p.getInstance(ctx, id)
	var pe *provider.Error
	if errors.As(err, &pe) && isNotFound(pe.Code) {
		return provider.Instance{}, false, nil
	}
	if err != nil {
		return provider.Instance{}, false, err
	}
	inst := withDetail(fromDetail(p.region, d), d)
	detailed[id] = inst
	return inst, true, nil
}

// busyKey names one accepted change: its instance and order.
func busyKey(w provider.Watch) string { return w.Instance + "/" + w.OrderID }

// sawBusy remembers that an accepted change's instance was seen busy after the call, so
// SERVING afterwards means the operation is over.
func (p *Provider) sawBusy(w provider.Watch) {
	if w.OrderID == "" {
		return
	}
	p.busyMu.Lock()
	defer p.busyMu.Unlock()
	if p.busy == nil {
		p.busy = map[string]bool{}
	}
	p.busy[busyKey(w)] = true
}

func (p *Provider) seenBusy(w provider.Watch) bool {
	p.busyMu.Lock()
	defer p.busyMu.Unlock()
	return p.busy[busyKey(w)]
}

// progress decides one watch from the instance's observed state. An accepted change (one
// with an order id) whose instance is SERVING without the planned values has ended
// without taking effect once the operation is over: the instance was seen busy after the
// call (sawBusy), or StartGrace passed without it starting. A change whose acceptance is
// in doubt (no order id) is followed until stepTimeout instead.
func progress(w provider.Watch, inst provider.Instance, sawBusy bool, now time.Time) provider.Progress {
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
	case inst.Status == statusServing && w.OrderID != "" && (sawBusy || !provider.WithinStartGrace(w, now, StartGrace)):
		pr.State = provider.StateFailed
		how := "the change ended"
		if !sawBusy {
			how = "the change never started (" + provider.SinceCall(w, now, StartGrace) + ")"
		}
		pr.Message = fmt.Sprintf("instance %s is SERVING with %s, not the planned %s: %s without taking effect (order %s)",
			w.Instance, spec(inst.Values, w.To), spec(w.To, w.To), how, w.OrderID)
	default:
		pr.State = provider.StateInProgress
		if inst.Status == statusServing {
			pr.Message = fmt.Sprintf("%s is %v, waiting for %v", field, inst.Values[field], w.To[field])
		}
	}
	return pr
}

// spec renders vals' values of the fields planned names: "maxPrivateTps=3000, queueCapacity=1000".
func spec(vals, planned provider.Values) string {
	keys := make([]string, 0, len(planned))
	for k := range planned {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, vals[k]))
	}
	return strings.Join(parts, ", ")
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

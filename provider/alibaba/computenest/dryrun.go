package computenest

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/upgradeplan/upgradeplan/provider"
)

// Plan's DryRun is shared by the instances it answers alike. UpgradeServiceInstance with
// DryRun=true answers UpgradeRequiredParameters: the parameters the target version of the
// service requires, which the service's version definitions fix, so the answer is the same
// for every instance of one service at one version going to one version with the same
// parameter names (the parameter values are not checked for required names). The API
// document says the dry run also "checks for issues such as permission errors and instance
// status": the status is per instance, so an instance that is not Deployed, or whose list
// entry names no service, gets its own DryRun; a permission that differs between
// instances of one service (a RAM policy scoped to instance ids) is not seen at plan time
// for the instances that shared another's answer, and is refused at apply. A failed
// DryRun is never shared: the next instance of the key sends its own.

// dryKey is what the DryRun's answer depends on.
type dryKey struct {
	service, from, to, names string
}

// dryEntry is one DryRun's answer, ready once done is closed.
type dryEntry struct {
	done     chan struct{}
	required []string
	ok       bool
}

// dryRuns holds the answers of the DryRuns sent so far, by key.
type dryRuns struct {
	mu sync.Mutex
	m  map[dryKey]*dryEntry
}

// requiredFor returns the parameters version requires for inst, from a DryRun sent for an
// instance with the same key (see above) or, where none has answered, from its own.
func (p *Provider) requiredFor(ctx context.Context, inst provider.Instance, version string, params map[string]any) ([]string, error) {
	service, _ := inst.Values[valueServiceID].(string)
	from, _ := inst.Values[valueVersion].(string)
	if inst.Status != statusDeployed || service == "" {
		return p.dryRun(ctx, inst.ID, version, params)
	}
	key := dryKey{service: service, from: from, to: version, names: strings.Join(slices.Sorted(maps.Keys(params)), "\x00")}
	for {
		p.dry.mu.Lock()
		if p.dry.m == nil {
			p.dry.m = map[dryKey]*dryEntry{}
		}
		e, found := p.dry.m[key]
		if !found {
			e = &dryEntry{done: make(chan struct{})}
			p.dry.m[key] = e
			p.dry.mu.Unlock()
			required, err := p.dryRun(ctx, inst.ID, version, params)
			p.dry.mu.Lock()
			if err == nil {
				e.required, e.ok = required, true
			} else {
				delete(p.dry.m, key)
			}
			p.dry.mu.Unlock()
			close(e.done)
			return required, err
		}
		p.dry.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.ok {
			return slices.Clone(e.required), nil
		}
		// That instance's DryRun failed, and its failure was its own: try with this one.
	}
}

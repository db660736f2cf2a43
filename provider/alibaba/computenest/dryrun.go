package computenest

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/upgradeplan/upgradeplan/provider"
)

// Plan's two per-instance reads are shared by the instances they answer alike:
//
//   - GetServiceInstance answers Service.UpgradableServiceVersions: the versions the
//     service at the instance's version can go to. It describes the service version, not
//     the instance, so it is the same for every instance of one service at one version:
//     one call per (service, from version).
//   - UpgradeServiceInstance with DryRun=true answers UpgradeRequiredParameters: the
//     parameters the target version of the service requires, which the service's version
//     definitions fix, so the answer is the same for every instance of one service at one
//     version going to one version with the same parameter names (the parameter values
//     are not checked for required names): one DryRun per (service, from, to, names).
//     The answer names the required parameters the instance does not have yet, so the
//     instance's own parameter names and template are part of the key as well.
//
// The API document says the dry run also "checks for issues such as permission errors and
// instance status": the status is per instance, so an instance that is not Deployed, or
// whose list entry names no service, sends both of its own; a permission that differs
// between instances of one service (a RAM policy scoped to instance ids) is not seen at
// plan time for the instances that shared another's answer, and is refused at apply. A
// failed read is never shared: the next instance of the key sends its own.

// dryKey is what an answer depends on (names is empty for GetServiceInstance).
type dryKey struct {
	service, from, to, names string
	// has and template are the instance's parameter names and template (DryRun only).
	has, template string
}

// sharedEntry is one answer, ready once done is closed.
type sharedEntry struct {
	done   chan struct{}
	answer []string
	ok     bool
}

// shared holds the answers sent for so far, by key.
type shared struct {
	mu sync.Mutex
	m  map[dryKey]*sharedEntry
}

// get returns the answer of key: another instance's, or, where none has answered, that of
// read, sent now. Instances waiting on one key's read send their own if it fails.
func (s *shared) get(ctx context.Context, key dryKey, read func() ([]string, error)) ([]string, error) {
	for {
		s.mu.Lock()
		if s.m == nil {
			s.m = map[dryKey]*sharedEntry{}
		}
		e, found := s.m[key]
		if !found {
			e = &sharedEntry{done: make(chan struct{})}
			s.m[key] = e
			s.mu.Unlock()
			answer, err := read()
			s.mu.Lock()
			if err == nil {
				e.answer, e.ok = answer, true
			} else {
				delete(s.m, key)
			}
			s.mu.Unlock()
			close(e.done)
			return answer, err
		}
		s.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.ok {
			return slices.Clone(e.answer), nil
		}
		// That instance's read failed, and its failure was its own: try with this one.
	}
}

// sharedKey is inst's key for answers that depend on its service and version, and false
// when inst must read for itself (not Deployed, or no service named).
func sharedKey(inst provider.Instance) (dryKey, bool) {
	service, _ := inst.Values[valueServiceID].(string)
	from, _ := inst.Values[valueVersion].(string)
	return dryKey{service: service, from: from}, inst.Status == statusDeployed && service != ""
}

// upgradableFor returns the versions inst can be upgraded to, from one GetServiceInstance
// per (service, from version) (see above).
func (p *Provider) upgradableFor(ctx context.Context, inst provider.Instance) ([]string, error) {
	key, ok := sharedKey(inst)
	if !ok {
		return p.upgradable(ctx, inst.ID)
	}
	return p.upgradables.get(ctx, key, func() ([]string, error) { return p.upgradable(ctx, inst.ID) })
}

// requiredFor returns the parameters version requires for inst, from a DryRun sent for an
// instance with the same key (see above) or, where none has answered, from its own.
func (p *Provider) requiredFor(ctx context.Context, inst provider.Instance, version string, params map[string]any) ([]string, error) {
	key, ok := sharedKey(inst)
	if !ok {
		return p.dryRun(ctx, inst.ID, version, params)
	}
	has, _ := inst.Values[factParameters].(string)
	if has == factUnknown {
		return p.dryRun(ctx, inst.ID, version, params) // its parameters unread: its own answer
	}
	key.to, key.names = version, strings.Join(slices.Sorted(maps.Keys(params)), "\x00")
	key.has = has
	key.template, _ = inst.Values[factTemplate].(string)
	return p.dry.get(ctx, key, func() ([]string, error) { return p.dryRun(ctx, inst.ID, version, params) })
}

package planner

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/manifest"
	"github.com/upgradeplan/upgradeplan/provider"
)

// ErrMeaning is the refusal of a plan whose content, though its digest matches, is not
// what plan could have written: a step whose call is not what its product builds from its
// from and to, a step outside its target, a window that cannot be. A digest only proves that
// nobody edited the file after it was digested; anyone can re-digest an edited file. `show`
// and `apply` exit 4 on it.
var ErrMeaning = errors.New("the plan is not one that plan writes")

// Recheck checks the meaning of a plan read back from a file, without any call: settings in
// range; targets with known kinds, their accounts, dependencies that come first and no
// instance in two targets; every step inside its target (kind, region, account, one of the
// target's instances, its id and dependencies) and in the wave the planner's canary rule
// gives its instance (recheckWaves), its call exactly what the product's Spec.Recheck builds
// from the step's from and to; no {fromEnv} that names a credential variable. The error wraps ErrMeaning and lists every problem, one per line.
func Recheck(p *Plan, reg provider.Registry) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	recheckSettings(p.Settings, reg, add)

	accountVars := map[string]bool{}
	for name, a := range p.Accounts {
		if a.Name != name {
			add("accounts.%s: its name is %q", name, a.Name)
		}
		for _, ref := range []provider.SecretRef{a.KeyID, a.Secret} {
			if ref.FromEnv != "" {
				accountVars[ref.FromEnv] = true
			}
		}
	}

	targets := map[string]*Target{}
	owner := map[string]string{} // kind/account/region/instance → target
	instances := map[string]map[string]bool{}
	for i := range p.Targets {
		t := &p.Targets[i]
		at := fmt.Sprintf("targets[%d] (%s)", i, t.Name)
		if _, dup := targets[t.Name]; dup {
			add("%s: a second target of this name", at)
			continue
		}
		spec, known := reg[t.Kind]
		switch {
		case !known:
			add("%s: unknown kind %q", at, t.Kind)
		case t.Account != "":
			if a, ok := p.Accounts[t.Account]; !ok {
				add("%s: account %q is not in accounts", at, t.Account)
			} else if a.Cloud != "" && a.Cloud != spec.Cloud {
				add("%s: account %q is for %s, kind %s runs on %s", at, t.Account, a.Cloud, t.Kind, spec.Cloud)
			}
		}
		for _, dep := range t.DependsOn {
			if _, ok := targets[dep]; !ok {
				add("%s: depends on %q, which is not a target before it", at, dep)
			}
		}
		if t.Canary < 0 || t.MaxConcurrent < 0 {
			add("%s: canary and max_concurrent may not be negative", at)
		}
		if len(t.Select.IDs) == 0 && len(t.Select.Tags) == 0 {
			add("%s: select names no id and no tag", at)
		}
		instances[t.Name] = map[string]bool{}
		for k, id := range t.Instances {
			if k > 0 && t.Instances[k-1] >= id {
				add("%s: instances are not sorted and unique at %q", at, id)
			}
			instances[t.Name][id] = true
			key := t.Kind + "\x00" + t.Region + "\x00" + id // one instance whichever account names it
			if other, taken := owner[key]; taken {
				add("%s: instance %s is also in target %s; an instance belongs to one target", at, id, other)
			}
			owner[key] = t.Name
		}
		targets[t.Name] = t
	}

	ids := map[string]*Step{}
	for i := range p.Steps {
		s := &p.Steps[i]
		at := fmt.Sprintf("steps[%d] (%s)", i, s.ID)
		if _, dup := ids[s.ID]; dup {
			add("%s: a second step with this id", at)
		}
		t, ok := targets[s.Target]
		if !ok {
			add("%s: target %q is not in targets", at, s.Target)
			ids[s.ID] = s
			continue
		}
		if s.Kind != t.Kind || s.Region != t.Region || s.Account != t.Account {
			add("%s: kind, region and account (%s, %s, %q) are not its target's (%s, %s, %q)", at,
				s.Kind, s.Region, s.Account, t.Kind, t.Region, t.Account)
		}
		if !instances[t.Name][s.Instance] {
			add("%s: instance %s is not one that target %s selected", at, s.Instance, t.Name)
		}
		if base, n, _ := strings.Cut(s.ID, "#"); base != s.Target+"/"+s.Instance || (n != "" && !positive(n)) {
			add("%s: the id of a step of %s on %s is %s/%s or %s/%s#N", at, s.Target, s.Instance, s.Target, s.Instance, s.Target, s.Instance)
		}
		for _, dep := range s.DependsOn {
			d, ok := ids[dep]
			if !ok || d.Target != s.Target {
				add("%s: depends on %q, which is not an earlier step of target %s", at, dep, s.Target)
			}
		}
		walkSecretRefs(map[string]any(s.Params), func(name string) {
			if why := manifest.CredentialVariable(name, accountVars); why != "" {
				add("%s: a parameter comes from %s; the plan would send a credential to the product", at, why)
			}
		})
		ids[s.ID] = s
		if spec, known := reg[s.Kind]; known {
			if spec.Recheck == nil {
				add("%s: kind %s cannot re-check its steps", at, s.Kind)
			} else if err := spec.Recheck(s.Region, s.Instance, provider.Change{Action: s.Action, Params: s.Params, From: s.From, To: s.To}); err != nil {
				add("%s: %s: %v", at, s.Kind, err)
			}
		}
	}
	recheckWaves(p.Steps, targets, add)
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%s", ErrMeaning, strings.Join(problems, "\n"))
}

// recheckWaves checks every step's wave against the rule targetSteps plans by: with canary
// N, wave 0 holds exactly the first N instances (by id) that have steps and every other
// instance is wave 1; without a canary every step is wave 0. apply runs a wave only after
// the one before it succeeded, so a second instance moved into wave 0 would run beside the
// canary instead of after it, and an instance of the canary moved out would let the others
// start unchecked. Steps of a target not in targets are left out: they are refused already.
func recheckWaves(steps []Step, targets map[string]*Target, add func(string, ...any)) {
	byTarget := map[string][]string{} // target → its instances with steps, sorted and unique
	for _, s := range steps {
		if _, ok := targets[s.Target]; ok {
			byTarget[s.Target] = append(byTarget[s.Target], s.Instance)
		}
	}
	wave0 := map[string][]string{} // target → the instances the planner puts in wave 0
	for name, ids := range byTarget {
		slices.Sort(ids)
		ids = slices.Compact(ids)
		if c := targets[name].Canary; c > 0 && c < len(ids) {
			ids = ids[:c]
		}
		wave0[name] = ids
	}
	for i, s := range steps {
		t, ok := targets[s.Target]
		if !ok {
			continue
		}
		want := 1
		if _, in := slices.BinarySearch(wave0[t.Name], s.Instance); in {
			want = 0
		}
		if s.Wave == want {
			continue
		}
		at := fmt.Sprintf("steps[%d] (%s)", i, s.ID)
		if t.Canary <= 0 {
			add("%s: wave %d; target %s has no canary, so every one of its steps is wave 0", at, s.Wave, t.Name)
			continue
		}
		add("%s: wave %d, but instance %s is in wave %d: with canary %d, wave 0 of target %s is its first %d instance(s) by id (%s) and every other instance is wave 1",
			at, s.Wave, s.Instance, want, t.Canary, t.Name, len(wave0[t.Name]), listSome(wave0[t.Name], 3))
	}
}

// listSome joins the first n of ids, saying how many more there are.
func listSome(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:n], ", "), len(ids)-n)
}

func positive(n string) bool {
	i, err := strconv.Atoi(n)
	return err == nil && i > 0 && strconv.Itoa(i) == n
}

func recheckSettings(s Settings, reg provider.Registry, add func(string, ...any)) {
	if s.Parallelism < 1 {
		add("settings.parallelism %d is below 1", s.Parallelism)
	}
	if s.PollInterval <= 0 {
		add("settings.poll_interval %s is not positive", time.Duration(s.PollInterval))
	}
	if s.StepTimeout <= 0 {
		add("settings.step_timeout %s is not positive", time.Duration(s.StepTimeout))
	}
	if b := s.MaxFailures; b != "" {
		if pct, isPct := strings.CutSuffix(b, "%"); isPct {
			if f, err := strconv.ParseFloat(pct, 64); err != nil || f <= 0 || f > 100 {
				add("settings.max_failures %q is not a percentage between 0 and 100", b)
			}
		} else if n, err := strconv.Atoi(b); err != nil || n < 0 {
			add("settings.max_failures %q is not a count or a percentage", b)
		}
	}
	if w := s.Window; w != nil {
		switch length := w.End.Sub(w.Start); {
		case length <= 0:
			add("settings.window ends at %s, not after its start %s", w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339))
		case w.Cutoff < 0 || time.Duration(w.Cutoff) >= length:
			add("settings.window.cutoff %s is not between 0 and the window's length %s", time.Duration(w.Cutoff), length)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(s.QPS)) {
		// The manifest's schema lists the actions; here the kind must be known.
		kind, action, _ := strings.Cut(key, "/")
		if _, ok := reg[kind]; !ok || action == "" {
			add("settings.qps: %q is not a kind/Action", key)
		}
		if q := s.QPS[key]; !(q >= manifest.QPSFloor) {
			add("settings.qps[%q] %g is below the floor of one call an hour (%g)", key, q, manifest.QPSFloor)
		}
	}
	for i, n := range s.Notify {
		switch n.Format {
		case "", "json", "slack", "dingtalk", "wecom", "feishu":
		default:
			add("settings.notify[%d].format %q is not json, slack, dingtalk, wecom or feishu", i, n.Format)
		}
		if n.URL.FromEnv == "" {
			add("settings.notify[%d].url names no environment variable", i)
		}
	}
}

// walkSecretRefs calls visit with the variable of every {fromEnv} in v.
func walkSecretRefs(v any, visit func(string)) {
	if ref, ok := provider.AsSecretRef(v); ok {
		visit(ref.FromEnv)
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			walkSecretRefs(x[k], visit)
		}
	case []any:
		for _, e := range x {
			walkSecretRefs(e, visit)
		}
	}
}

package planner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/manifest"
	"github.com/upgradeplan/upgradeplan/provider"
)

// Defaults for the settings a manifest leaves unset. They are written into the plan file, so
// `apply` runs with exactly what the reviewer saw.
const (
	// DefaultParallelism is Terraform's -parallelism default: steps in flight, all targets.
	DefaultParallelism = 10
	// DefaultPollInterval is how often in-flight steps are observed.
	DefaultPollInterval = 15 * time.Second
	// DefaultStepTimeout bounds one step from its call to its observed completion.
	DefaultStepTimeout = 2 * time.Hour
	// PlanWorkersPerGroup bounds the diffs in flight per (kind, account, region), under
	// settings.parallelism: enough to keep a 100/s read bucket busy at 500 ms a request.
	PlanWorkersPerGroup = 64
)

// Options are what Build needs besides the manifest and the products.
type Options struct {
	// Doer is passed into every provider.Config, so that plan's reads are rate-limited like
	// apply's; nil sends every request directly.
	Doer provider.Doer
	// Getenv reads endpoint overrides and secrets; nil means os.Getenv.
	Getenv func(string) string
	// Now stamps created_at; nil means time.Now.
	Now func() time.Time
	// ToolVersion is written as tool_version.
	ToolVersion string
	// ManifestPath is written as manifest.path; "" means fleet.File.
	ManifestPath string
}

// Build plans fleet: it opens one provider per (kind, account, region), reads each of them
// with ONE bulk List for the union of its targets' selections, filters every target's
// instances (ids ∩ tags), diffs each instance against the target's desired state with the
// provider's rules, and orders the resulting steps (see Plan and Step).
//
// Settings the manifest leaves unset get the Default* values: parallelism 10, poll interval
// 15s, step timeout 2h, no failure budget, no window.
//
// Every problem of the manifest is collected before Build fails: the error is then Problems,
// one per broken rule, empty selection, unknown id or failed read, each naming the manifest
// position, the target and the instance. Other errors (a cancelled ctx) are returned as is.
func Build(ctx context.Context, fleet *manifest.Fleet, reg provider.Registry, opts Options) (*Plan, error) {
	if fleet == nil {
		return nil, errors.New("planner: no fleet")
	}
	order, problems := targetOrder(fleet)
	if len(problems) > 0 {
		problems.sort()
		return nil, problems
	}
	settings := ResolveSettings(fleet.Settings)
	accounts := convertAccounts(fleet.Accounts)

	groups, problems := openGroups(fleet, reg, accounts, opts)
	ids, byTarget, more, err := planGroups(ctx, fleet, groups, settings.Parallelism)
	if err != nil {
		return nil, err
	}
	more = append(more, sharedAcrossAccounts(fleet, groups, ids)...)
	if problems = append(problems, more...); len(problems) > 0 {
		problems.sort()
		return nil, problems
	}

	// Assemble targets and steps in dependency order.
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	path := opts.ManifestPath
	if path == "" {
		path = fleet.File
	}
	p := &Plan{
		FormatVersion: FormatVersion,
		ToolVersion:   opts.ToolVersion,
		CreatedAt:     now().UTC().Truncate(time.Second),
		Manifest: Source{
			Path:   path,
			SHA256: fleet.SHA256,
			Name:   fleet.Metadata.Name,
			Owner:  fleet.Metadata.Owner,
		},
		Settings: settings,
		Accounts: accounts,
		Targets:  []Target{},
		Steps:    []Step{},
	}
	n := 0
	for _, ti := range order {
		for _, cs := range byTarget[ti] {
			n += len(cs)
		}
	}
	p.Steps = make([]Step, 0, n) // one array of 60,000 steps, not its doublings
	for _, ti := range order {
		t := fleet.Targets[ti]
		p.Targets = append(p.Targets, Target{
			Name:          t.Name,
			Kind:          t.Kind,
			Region:        t.Region,
			Account:       t.Account,
			Select:        provider.Selection{IDs: slices.Clone(t.Select.IDs), Tags: maps.Clone(t.Select.Tags)},
			DependsOn:     slices.Clone(t.DependsOn),
			Canary:        t.Canary,
			MaxConcurrent: t.MaxConcurrent,
			Instances:     ids[ti],
		})
		p.Steps = append(p.Steps, targetSteps(t, byTarget[ti])...)
	}
	return p, nil
}

// group is one (kind, account, region): one provider, one bulk read for all its targets.
type group struct {
	kind, account, region string
	targets               []int // indexes into fleet.Targets, in manifest order
	prov                  provider.Provider
	sel                   provider.Selection // the union of the targets' selections
	listed                []provider.Instance
	listErr               error
}

func accountSuffix(account string) string {
	if account == "" {
		return ""
	}
	return " (account " + account + ")"
}

func openGroups(fleet *manifest.Fleet, reg provider.Registry, accounts map[string]provider.Account, opts Options) ([]*group, Problems) {
	var problems Problems
	var groups []*group
	index := map[[3]string]*group{}
	for ti, t := range fleet.Targets {
		key := [3]string{t.Kind, t.Account, t.Region}
		g, ok := index[key]
		if !ok {
			g = &group{kind: t.Kind, account: t.Account, region: t.Region}
			index[key] = g
			groups = append(groups, g)
		}
		g.targets = append(g.targets, ti)
	}
	for _, g := range groups {
		var acct provider.Account
		if g.account != "" {
			a, ok := accounts[g.account]
			if !ok {
				for _, ti := range g.targets {
					t := fleet.Targets[ti]
					path := fmt.Sprintf("targets[%d].account", t.Index)
					problems = append(problems, &Problem{Pos: fleet.Pos(path), Path: path, Target: t.Name,
						Message: fmt.Sprintf("no account %q in accounts", g.account)})
				}
				continue
			}
			acct = a
		}
		prov, err := reg.Open(g.kind, provider.Config{Region: g.region, Account: acct, Doer: opts.Doer, Getenv: opts.Getenv})
		if err != nil {
			_, known := reg[g.kind]
			for _, ti := range g.targets {
				t := fleet.Targets[ti]
				path, msg := fmt.Sprintf("targets[%d]", t.Index), fmt.Sprintf("open %s in %s%s: %v", g.kind, g.region, accountSuffix(g.account), err)
				switch {
				case !known:
					path += ".kind"
					msg = fmt.Sprintf("unknown kind %q; known kinds: %s", g.kind, strings.Join(reg.Kinds(), ", "))
				case t.Account != "":
					path += ".account"
				}
				problems = append(problems, &Problem{Pos: fleet.Pos(path), Path: path, Target: t.Name, Message: msg})
			}
			continue
		}
		g.prov = prov
		g.sel = unionSelection(fleet, g.targets)
	}
	return groups, problems
}

// unionSelection is one selection that every target of a group is a subset of: the union of
// ids when every target names ids, the tags when every target has the same tags; otherwise the
// provider lists the whole region and the targets are filtered here.
func unionSelection(fleet *manifest.Fleet, targets []int) provider.Selection {
	var sel provider.Selection
	allIDs := true
	ids := map[string]bool{}
	for _, ti := range targets {
		t := fleet.Targets[ti]
		if len(t.Select.IDs) == 0 {
			allIDs = false
		}
		for _, id := range t.Select.IDs {
			ids[id] = true
		}
	}
	if allIDs {
		sel.IDs = slices.Sorted(maps.Keys(ids))
	}
	first := fleet.Targets[targets[0]].Select.Tags
	same := true
	for _, ti := range targets[1:] {
		if !maps.Equal(first, fleet.Targets[ti].Select.Tags) {
			same = false
		}
	}
	if same && len(first) > 0 {
		sel.Tags = maps.Clone(first)
	}
	return sel
}

// selectInstances filters a group's listing down to one target's selection (ids ∩ tags),
// reporting an empty selection and, for a selection by ids only, every id that was not found.
func selectInstances(fleet *manifest.Fleet, ti int, g *group, problems Problems) ([]provider.Instance, Problems) {
	t := fleet.Targets[ti]
	want := map[string]bool{}
	for _, id := range t.Select.IDs {
		want[id] = true
	}
	// Tags the provider already filtered on need no second look (and a provider need not
	// echo tags it filtered by).
	filterTags := len(t.Select.Tags) > 0 && g.sel.Tags == nil
	var out []provider.Instance
	found := map[string]bool{}
	for _, inst := range g.listed {
		if len(want) > 0 && !want[inst.ID] {
			continue
		}
		if filterTags && !provider.HasTags(inst.Tags, t.Select.Tags) {
			continue
		}
		found[inst.ID] = true
		out = append(out, inst)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(out) == 0 {
		path := fmt.Sprintf("targets[%d].select", t.Index)
		problems = append(problems, &Problem{Pos: fleet.Pos(path), Path: path, Target: t.Name,
			Message: fmt.Sprintf("no %s instance in %s%s matches %s; check the ids and tags (an empty selection is an error so that a typo cannot plan \"no changes\")",
				t.Kind, t.Region, accountSuffix(t.Account), describeSelection(t.Select))})
		return nil, problems
	}
	if len(t.Select.Tags) == 0 {
		for k, id := range t.Select.IDs {
			if !found[id] {
				path := fmt.Sprintf("targets[%d].select.ids[%d]", t.Index, k)
				problems = append(problems, &Problem{Pos: fleet.Pos(path), Path: path, Target: t.Name,
					Message: fmt.Sprintf("no %s instance %q in %s%s", t.Kind, id, t.Region, accountSuffix(t.Account))})
			}
		}
	}
	return out, problems
}

func describeSelection(s manifest.Selection) string {
	var parts []string
	if len(s.IDs) > 0 {
		parts = append(parts, "ids ["+strings.Join(s.IDs, ", ")+"]")
	}
	if len(s.Tags) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(s.Tags)) {
			kv = append(kv, k+": "+s.Tags[k])
		}
		parts = append(parts, "tags {"+strings.Join(kv, ", ")+"}")
	}
	if len(parts) == 0 {
		return "everything"
	}
	return strings.Join(parts, " and ")
}

// planProblems turns a provider's Plan error into problems at the desired value at fault. An
// error joining several (errors.Join) gives one problem each.
func planProblems(fleet *manifest.Fleet, t manifest.Target, instance string, err error) Problems {
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		var out Problems
		for _, e := range multi.Unwrap() {
			out = append(out, planProblems(fleet, t, instance, e)...)
		}
		return out
	}
	path := fmt.Sprintf("targets[%d].desired", t.Index)
	msg := err.Error()
	var re *provider.RuleError
	if errors.As(err, &re) {
		if re.Field != "" {
			path += "." + re.Field
		}
		msg = re.Message
	}
	return Problems{{Pos: fleet.Pos(path), Path: path, Target: t.Name, Instance: instance, Message: msg}}
}

// ResolveSettings fills the settings a manifest leaves unset with the Default* values; it is
// what Build writes into the plan (callers use it to set up a rate limiter before Build).
func ResolveSettings(s manifest.Settings) Settings {
	out := Settings{
		Parallelism:  s.Parallelism,
		MaxFailures:  s.MaxFailures.String(),
		PollInterval: Duration(s.PollInterval),
		StepTimeout:  Duration(s.StepTimeout),
	}
	if out.Parallelism <= 0 {
		out.Parallelism = DefaultParallelism
	}
	if out.PollInterval <= 0 {
		out.PollInterval = Duration(DefaultPollInterval)
	}
	if out.StepTimeout <= 0 {
		out.StepTimeout = Duration(DefaultStepTimeout)
	}
	if s.Window != nil {
		out.Window = &Window{Start: s.Window.Start, End: s.Window.End, Cutoff: Duration(s.Window.Cutoff)}
	}
	if len(s.QPS) > 0 {
		out.QPS = maps.Clone(s.QPS)
	}
	for _, n := range s.Notify {
		out.Notify = append(out.Notify, Notify{Format: n.Format, URL: provider.SecretRef{FromEnv: n.URL.FromEnv}})
	}
	return out
}

// Accounts returns the manifest's accounts as a plan holds them (Plan.Accounts).
func Accounts(fleet *manifest.Fleet) map[string]provider.Account {
	return convertAccounts(fleet.Accounts)
}

func convertAccounts(in map[string]manifest.Account) map[string]provider.Account {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]provider.Account, len(in))
	for name, a := range in {
		out[name] = provider.Account{
			Name:         name,
			Cloud:        a.Cloud,
			KeyID:        provider.SecretRef{FromEnv: a.KeyID.FromEnv},
			KeyIDLiteral: a.KeyIDLiteral,
			Secret:       provider.SecretRef{FromEnv: a.Secret.FromEnv},
		}
	}
	return out
}

// convertDesired copies a manifest's desired block, turning secret references into
// provider.SecretRef (still references: nothing is read from the environment here).
func convertDesired(in map[string]any) provider.Desired {
	out := make(provider.Desired, len(in))
	for k, v := range in {
		out[k] = convertValue(v)
	}
	return out
}

func convertValue(v any) any {
	switch x := v.(type) {
	case manifest.SecretRef:
		return provider.SecretRef{FromEnv: x.FromEnv}
	case *manifest.SecretRef:
		if x == nil {
			return nil
		}
		return provider.SecretRef{FromEnv: x.FromEnv}
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = convertValue(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = convertValue(e)
		}
		return s
	}
	return v
}

// Package computenest is the provider for Compute Nest service instance upgrades (kind
// alibaba.computenest, computenestsupplier 2021-05-21, UpgradeServiceInstance). It owns the
// product's rules: the desired serviceVersion must be one of the instance's
// UpgradableServiceVersions, and the parameters the new version requires must be in the
// manifest, which Plan checks by sending UpgradeServiceInstance with DryRun=true: one DryRun
// per distinct (service, from version, to version, parameter names), and one per instance
// only for an instance that is not Deployed (dryrun.go says why).
//
// Reading: ListServiceInstances, 100 per page, with the selection sent as filters: ids as
// a ServiceInstanceId filter of at most 10 values (so more ids take more calls) and tags as
// Tag.N. Observe reads the watched ids the same way, ceil(k/10) calls for k instances,
// unless the region's pages (100 per call, from the size its last unfiltered list
// recorded) are fewer: then it pages the region. The list does not say which versions
// an instance can upgrade to (the current model has no Service.UpgradableServiceVersions
// there); Plan reads them with GetServiceInstance, one per distinct (service, current
// version) among the instances whose desired version differs from their current one, and
// one per instance only for an instance that is not Deployed (dryrun.go).
//
// Secrets: a parameter may be a {fromEnv} reference. Changes keep it as a reference; Apply
// resolves it with Config.Env() and sends Parameters as a JSON string. At plan time the
// DryRun carries a secret's value when its variable is set, and leaves that key out when it
// is not — the manifest names it, so it still counts as supplied, and an unset variable
// only fails at apply time, where it is reported by name. A secret value never appears in an
// error, a log line or a returned value: a call that carries one names it to alisdk
// (alisdk.Call.Secrets), which masks it in every error before the Doer sees it and before
// a long cloud message is cut short, since a transport error quotes the request URL,
// every RPC parameter travels in it, and a cloud error may echo the parameters.
//
// Completion: Upgrading is in progress; Deployed at the planned version is done;
// DeployedFailed is a failure (and UpgradeRollbacking, which the current model's enum lacks
// but older answers showed); Deployed at the old version past the start grace is a failed
// upgrade that rolled back, or a call that never took effect (see StartGrace); Deployed at
// a version that is neither the old nor the planned one is someone else's upgrade, a
// failure at once.
package computenest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	cn "github.com/aliyun/alibaba-cloud-sdk-go/services/computenestsupplier"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/internal/alisdk"
)

// Kind is this provider's kind.
const Kind = "alibaba.computenest"

// ActionUpgrade is the mutating call.
const ActionUpgrade = "UpgradeServiceInstance"

const (
	actionList      = "ListServiceInstances"
	actionGet       = "GetServiceInstance"
	pageSize        = 100
	maxFilterValues = 10
)

// Statuses.
const (
	statusDeployed           = "Deployed"
	statusUpgrading          = "Upgrading"
	statusUpgradeRollbacking = "UpgradeRollbacking"
	statusDeployedFailed     = "DeployedFailed"
)

// Observed value names.
const (
	valueVersion   = "serviceVersion"
	valueServiceID = "serviceId"
	// factParameters names the parameters the instance has (the list's Parameters keys,
	// sorted, comma-separated; factUnknown when they cannot be read), and factTemplate its
	// TemplateName: the DryRun's required parameters depend on both (dryrun.go).
	factParameters = "parameterNames"
	factTemplate   = "templateName"
)

// VisibilityGrace is how long an accepted upgrade may stay invisible in ListServiceInstances (status
// and values unchanged) before the executor takes an untouched instance as a call that never
// took effect. The API documents no figure; this bounds the lag the clouds show in practice.
const VisibilityGrace = time.Minute

// Spec describes the product for the registry.
func Spec() provider.Spec {
	return provider.Spec{
		Kind:  Kind,
		Cloud: "alibaba",
		Actions: []provider.ActionSpec{
			{Name: actionList},
			{Name: actionGet},
			{Name: ActionUpgrade, Mutating: true},
		},
		IdempotencyToken: true,
		// UpgradeServiceInstance has a real dry run: `apply --dry-run` sends DryRun=true.
		DryRun:          true,
		VisibilityGrace: VisibilityGrace,
		StartGrace:      StartGrace,
		New:             func(cfg provider.Config) (provider.Provider, error) { return New(cfg) },
		Recheck:         Recheck,
		// An upgrade redeploys the service's resources; no document names a shorter one.
		ShortestOperation: provider.DefaultShortestOperation,
	}
}

// Provider is Compute Nest in one region under one account.
type Provider struct {
	region string
	getenv func(string) string
	pool   *alisdk.Pool

	// size is the region's instance count from its last unfiltered list, for Observe's
	// choice between ServiceInstanceId filters and the region's pages.
	size provider.RegionSize

	// dry and upgradables hold Plan's DryRun and GetServiceInstance answers, shared by the
	// instances the API answers alike (dryrun.go).
	dry, upgradables shared
}

var _ provider.Provider = (*Provider)(nil)

// New opens the product for cfg.
func New(cfg provider.Config) (*Provider, error) {
	pool, err := alisdk.NewPool(cfg, alisdk.Options{Kind: Kind, Endpoint: alisdk.Regional("computenestsupplier", cn.GetEndpointMap())})
	if err != nil {
		return nil, err
	}
	return &Provider{region: cfg.Region, getenv: cfg.Env(), pool: pool}, nil
}

// List returns the region's service instances matching sel, sorted by id.
func (p *Provider) List(ctx context.Context, sel provider.Selection) ([]provider.Instance, error) {
	return p.list(ctx, sel.IDs, sel.Tags)
}

// list reads the instances with the ids (all when none) and tags, one call per page and
// per group of at most 10 ids.
func (p *Provider) list(ctx context.Context, ids []string, tags map[string]string) ([]provider.Instance, error) {
	var groups [][]string
	if len(ids) == 0 {
		groups = [][]string{nil}
	}
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	sorted = dedupe(sorted)
	for len(sorted) > 0 {
		n := min(len(sorted), maxFilterValues)
		groups = append(groups, sorted[:n])
		sorted = sorted[n:]
	}
	seen := map[string]bool{}
	var out []provider.Instance
	for _, group := range groups {
		err := provider.ReadPages(func(pg provider.Page) (provider.PageAnswer, error) {
			var resp *cn.ListServiceInstancesResponse
			err := p.pool.Invoke(ctx, alisdk.Call{Action: actionList}, func() (requests.AcsRequest, responses.AcsResponse) {
				req := cn.CreateListServiceInstancesRequest()
				req.RegionId = p.region
				req.MaxResults = requests.NewInteger(pageSize)
				req.NextToken = pg.Token
				if len(group) > 0 {
					values := append([]string(nil), group...)
					req.Filter = &[]cn.ListServiceInstancesFilter{{Name: "ServiceInstanceId", Value: &values}}
				}
				if len(tags) > 0 {
					var ts []cn.ListServiceInstancesTag
					for _, k := range slices.Sorted(maps.Keys(tags)) {
						ts = append(ts, cn.ListServiceInstancesTag{Key: k, Value: tags[k]})
					}
					req.Tag = &ts
				}
				resp = cn.CreateListServiceInstancesResponse()
				return req, resp
			})
			if err != nil {
				return provider.PageAnswer{}, err
			}
			for _, si := range resp.ServiceInstances {
				if !seen[si.ServiceInstanceId] {
					seen[si.ServiceInstanceId] = true
					out = append(out, p.fromList(si))
				}
			}
			return provider.PageAnswer{Items: len(resp.ServiceInstances), Next: resp.NextToken}, nil
		})
		if err != nil {
			return nil, fmt.Errorf("computenest: list service instances in %s: %w", p.region, err)
		}
	}
	if len(ids) == 0 && len(tags) == 0 {
		p.size.Record(len(out))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func dedupe(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func phaseOf(status string) provider.Phase {
	switch status {
	case statusDeployed:
		return provider.PhaseReady
	case statusUpgradeRollbacking, statusDeployedFailed, "Deleted", "Expired":
		return provider.PhaseFailed
	}
	return provider.PhaseBusy
}

func (p *Provider) fromList(si cn.ServiceInstance) provider.Instance {
	tags := map[string]string{}
	for _, t := range si.Tags {
		tags[t.Key] = t.Value
	}
	return provider.Instance{
		ID:     si.ServiceInstanceId,
		Region: p.region,
		Status: si.Status,
		Phase:  phaseOf(si.Status),
		Tags:   tags,
		Values: provider.Values{
			valueVersion:   si.Service.Version,
			valueServiceID: si.Service.ServiceId,
			factParameters: parameterNames(si.Parameters),
			factTemplate:   si.TemplateName,
		},
	}
}

// factUnknown is factParameters of an instance whose Parameters are not a JSON object.
const factUnknown = "\x00unknown"

// parameterNames is factParameters of a list entry's Parameters, a JSON object as a
// string ("" or "{}" for none). Only the names are kept: the values may be secrets.
func parameterNames(raw string) string {
	if strings.TrimSpace(raw) == "" {
		return ""
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return factUnknown
	}
	return strings.Join(slices.Sorted(maps.Keys(m)), ",")
}

// upgradable reads the versions an instance can upgrade to with GetServiceInstance, the
// only action whose current model returns them.
func (p *Provider) upgradable(ctx context.Context, id string) ([]string, error) {
	var resp *cn.GetServiceInstanceResponse
	err := p.pool.Invoke(ctx, alisdk.Call{Action: actionGet}, func() (requests.AcsRequest, responses.AcsResponse) {
		req := cn.CreateGetServiceInstanceRequest()
		req.RegionId = p.region
		req.ServiceInstanceId = id
		resp = cn.CreateGetServiceInstanceResponse()
		return req, resp
	})
	if err != nil {
		return nil, fmt.Errorf("computenest: read the upgradable versions of %s in %s: %w", id, p.region, err)
	}
	if resp.ServiceInstanceId != id {
		return nil, fmt.Errorf("computenest: GetServiceInstance %s in %s answered for %q (request id %s)", id, p.region, resp.ServiceInstanceId, resp.RequestId)
	}
	return resp.Service.UpgradableServiceVersions, nil
}

// versionString reads serviceVersion as the manifest gives it ("3", or 3 unquoted).
func versionString(v any) (string, bool) {
	if _, isBool := v.(bool); isBool {
		return "", false
	}
	s, ok := provider.Text(v)
	return s, ok && s != ""
}

// Plan checks the version and, with a DryRun, the required parameters.
func (p *Provider) Plan(ctx context.Context, inst provider.Instance, want provider.Desired) ([]provider.Change, error) {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if k != "serviceVersion" && k != "parameters" {
			errs = append(errs, &provider.RuleError{Field: k, Message: "is not a Compute Nest field; use serviceVersion and parameters"})
		}
	}
	version, ok := versionString(want["serviceVersion"])
	if !ok {
		errs = append(errs, &provider.RuleError{Field: "serviceVersion", Message: "is required: the service version to upgrade to, e.g. \"3\""})
	}
	params := map[string]any{}
	if raw, has := want["parameters"]; has {
		m, isMap := raw.(map[string]any)
		if !isMap {
			errs = append(errs, &provider.RuleError{Field: "parameters", Message: "must be a map of parameter names to values"})
		}
		for k, v := range m {
			if ref, isRef := provider.AsSecretRef(v); isRef {
				params[k] = ref
				continue
			}
			if SecretName(k) {
				errs = append(errs, &provider.RuleError{Field: "parameters." + k, Message: secretMessage})
				continue
			}
			switch v.(type) {
			case string, bool, int64, int, float64, json.Number:
				params[k] = v
			default:
				errs = append(errs, &provider.RuleError{Field: "parameters." + k, Message: "must be a string, a number, a bool or {fromEnv: NAME}"})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	current, _ := inst.Values[valueVersion].(string)
	if version == current {
		return nil, nil
	}
	ups, err := p.upgradableFor(ctx, inst)
	if err != nil {
		return nil, err
	}
	if !contains(ups, version) {
		list := "none"
		if len(ups) > 0 {
			list = strings.Join(ups, ", ")
		}
		return nil, &provider.RuleError{Field: "serviceVersion", Message: fmt.Sprintf(
			"%q is not an upgradable version of %s (at version %q; upgradable: %s)", version, inst.ID, current, list)}
	}

	required, err := p.requiredFor(ctx, inst, version, params)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, name := range required {
		if _, ok := params[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, &provider.RuleError{Field: "parameters", Message: fmt.Sprintf(
			"service version %s of %s requires %s, which the manifest lacks: add %s to parameters",
			version, inst.ID, plural(missing), strings.Join(missing, ", "))}
	}

	ch := upgradeChange(inst.ID, current, version, params)
	var secrets []string
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if ref, ok := params[k].(provider.SecretRef); ok {
			secrets = append(secrets, k+" from $"+ref.FromEnv)
		}
	}
	if len(secrets) > 0 {
		ch.Notes = []string{"secret parameters resolved at apply time: " + strings.Join(secrets, ", ")}
	}
	return []provider.Change{ch}, nil
}

func plural(names []string) string {
	if len(names) == 1 {
		return "a parameter"
	}
	return strconv.Itoa(len(names)) + " parameters"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// dryRun sends UpgradeServiceInstance with DryRun=true and returns the parameters the
// version requires. A secret whose variable is unset is left out of the request.
func (p *Provider) dryRun(ctx context.Context, id, version string, params map[string]any) ([]string, error) {
	body, secrets, err := encodeParameters(params, p.getenv, false)
	if err != nil {
		return nil, fmt.Errorf("computenest: dry-run upgrade of %s: %w", id, err)
	}
	var resp *cn.UpgradeServiceInstanceResponse
	err = p.pool.Invoke(ctx, alisdk.Call{Action: ActionUpgrade, Instance: id, Secrets: secrets}, func() (requests.AcsRequest, responses.AcsResponse) {
		req := cn.CreateUpgradeServiceInstanceRequest()
		req.RegionId = p.region
		req.ServiceInstanceId = id
		req.ServiceVersion = version
		req.DryRun = "true"
		req.Parameters = body
		resp = cn.CreateUpgradeServiceInstanceResponse()
		return req, resp
	})
	if err != nil {
		return nil, fmt.Errorf("computenest: dry-run upgrade of %s to version %s in %s: %w", id, version, p.region, err)
	}
	return requiredNames(resp.UpgradeRequiredParameters), nil
}

// requiredNames flattens UpgradeRequiredParameters. The API document's example shows one
// element holding a Python-style list ("['EcsInstanceType', 'InstancePassword']"), so such
// an element is split into its names.
func requiredNames(raw []string) []string {
	var out []string
	for _, s := range raw {
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			for _, part := range strings.Split(s[1:len(s)-1], ",") {
				if name := strings.Trim(strings.TrimSpace(part), `'"`); name != "" {
					out = append(out, name)
				}
			}
			continue
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// encodeParameters renders Parameters as the JSON string the API takes, resolving secret
// references. With strict, an unset variable is an error naming it; without, the key is
// left out. It also returns the resolved secret values, which the call names to alisdk
// (alisdk.Call.Secrets) so that no error repeats them.
func encodeParameters(params map[string]any, getenv func(string) string, strict bool) (string, []string, error) {
	if len(params) == 0 {
		return "", nil, nil
	}
	out := make(map[string]any, len(params))
	var secrets []string
	for k, v := range params {
		ref, isRef := provider.AsSecretRef(v)
		if !isRef {
			out[k] = v
			continue
		}
		val, err := ref.Resolve(getenv)
		if err != nil {
			if strict {
				return "", nil, fmt.Errorf("parameter %s: %w", k, err)
			}
			continue
		}
		out[k] = val
		secrets = append(secrets, val)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", nil, fmt.Errorf("parameters: %w", err)
	}
	return string(b), secrets, nil
}

// Apply sends one UpgradeServiceInstance (a real DryRun when call.DryRun).
func (p *Provider) Apply(ctx context.Context, call provider.Call) (provider.Receipt, error) {
	if call.Action != ActionUpgrade {
		return provider.Receipt{}, fmt.Errorf("computenest: %s: unknown action %q", call.Instance, call.Action)
	}
	if id, _ := call.Params["ServiceInstanceId"].(string); id != "" && id != call.Instance {
		return provider.Receipt{}, fmt.Errorf("computenest: the call names service instance %s but its parameters %s", call.Instance, id)
	}
	version, ok := versionString(call.Params["ServiceVersion"])
	if !ok {
		return provider.Receipt{}, fmt.Errorf("computenest: %s: the call has no ServiceVersion", call.Instance)
	}
	var params map[string]any
	if raw, has := call.Params["Parameters"]; has {
		m, isMap := raw.(map[string]any)
		if !isMap {
			return provider.Receipt{}, fmt.Errorf("computenest: %s: Parameters is a %T, not a map", call.Instance, raw)
		}
		params = m
	}
	body, secrets, err := encodeParameters(params, p.getenv, true)
	if err != nil {
		return provider.Receipt{}, &provider.Error{Class: provider.ClassPermanent, Kind: Kind, Action: ActionUpgrade, Instance: call.Instance, Message: err.Error(), Err: err}
	}
	var resp *cn.UpgradeServiceInstanceResponse
	err = p.pool.Invoke(ctx, alisdk.Call{Action: ActionUpgrade, Instance: call.Instance, Mutating: !call.DryRun, Secrets: secrets}, func() (requests.AcsRequest, responses.AcsResponse) {
		req := cn.CreateUpgradeServiceInstanceRequest()
		req.RegionId = p.region
		req.ServiceInstanceId = call.Instance
		req.ServiceVersion = version
		req.Parameters = body
		req.ClientToken = call.ClientToken
		req.DryRun = strconv.FormatBool(call.DryRun)
		resp = cn.CreateUpgradeServiceInstanceResponse()
		return req, resp
	})
	if err != nil {
		return provider.Receipt{}, fmt.Errorf("computenest: upgrade %s to version %s in %s: %w", call.Instance, version, p.region, err)
	}
	return provider.Receipt{RequestID: resp.RequestId}, nil
}

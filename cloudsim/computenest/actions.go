package computenest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// maxFilterValues is the API's limit of values per Filter.N.
const maxFilterValues = 10

type tagVO struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// serviceVO is a service instance's Service as ListServiceInstances returns it: the
// current model has no upgradable versions there (only GetServiceInstance does).
type serviceVO struct {
	ServiceId   string `json:"ServiceId"`
	Version     string `json:"Version"`
	VersionName string `json:"VersionName"`
	Status      string `json:"Status"`
}

// serviceDetailVO is the Service of GetServiceInstance: serviceVO plus the versions the
// instance can upgrade to.
type serviceDetailVO struct {
	serviceVO
	UpgradableServiceVersions []string           `json:"UpgradableServiceVersions"`
	UpgradableServiceInfos    []upgradableInfoVO `json:"UpgradableServiceInfos"`
}

type upgradableInfoVO struct {
	Version     string `json:"Version"`
	VersionName string `json:"VersionName"`
}

// serviceInstanceDetailVO is GetServiceInstance's answer.
type serviceInstanceDetailVO struct {
	serviceInstanceVO
	Service serviceDetailVO `json:"Service"`
}

// serviceInstanceVO carries the fields of the SDK's computenestsupplier.ServiceInstance.
type serviceInstanceVO struct {
	ServiceInstanceId string    `json:"ServiceInstanceId"`
	Name              string    `json:"Name"`
	Status            string    `json:"Status"`
	Parameters        string    `json:"Parameters"`
	Progress          int64     `json:"Progress"`
	Source            string    `json:"Source"`
	Service           serviceVO `json:"Service"`
	Tags              []tagVO   `json:"Tags"`
}

func (inst *Instance) vo() serviceInstanceVO {
	tags := sim.SortedTags(inst.Tags, func(k, v string) tagVO { return tagVO{Key: k, Value: v} })
	params, _ := json.Marshal(maskedParameters(inst.Parameters))
	progress := int64(100)
	if inst.Status == StatusUpgrading {
		progress = 50
	}
	return serviceInstanceVO{
		ServiceInstanceId: inst.ID,
		Name:              inst.Name,
		Status:            inst.Status,
		Parameters:        string(params),
		Progress:          progress,
		Source:            "Supplier",
		Service: serviceVO{
			ServiceId:   inst.ServiceID,
			Version:     inst.Version,
			VersionName: "v" + inst.Version,
			Status:      "Online",
		},
		Tags: tags,
	}
}

// detailVO is the instance as GetServiceInstance shows it, with its upgradable versions.
func (inst *Instance) detailVO() serviceInstanceDetailVO {
	list := inst.vo()
	d := serviceInstanceDetailVO{serviceInstanceVO: list, Service: serviceDetailVO{serviceVO: list.Service}}
	d.Service.UpgradableServiceVersions = []string{}
	d.Service.UpgradableServiceInfos = []upgradableInfoVO{}
	for _, v := range inst.Upgradable() {
		d.Service.UpgradableServiceVersions = append(d.Service.UpgradableServiceVersions, v)
		d.Service.UpgradableServiceInfos = append(d.Service.UpgradableServiceInfos, upgradableInfoVO{Version: v, VersionName: "v" + v})
	}
	return d
}

// filter is one Filter.N of ListServiceInstances.
type filter struct {
	name   string
	values map[string]bool
}

// indexed collects "Prefix.N.rest" parameters by N, in N order.
func indexed(params url.Values, prefix string) ([]map[string][]string, error) {
	byN := map[int]map[string][]string{}
	for k, vs := range params {
		if !strings.HasPrefix(k, prefix+".") {
			continue
		}
		rest := strings.TrimPrefix(k, prefix+".")
		nStr, field, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(nStr)
		if err != nil || n < 1 {
			return nil, sim.Errorf(http.StatusBadRequest, "InvalidParameter."+prefix, "The parameter %s is malformed.", k)
		}
		if byN[n] == nil {
			byN[n] = map[string][]string{}
		}
		byN[n][field] = append(byN[n][field], vs...)
	}
	ns := make([]int, 0, len(byN))
	for n := range byN {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	out := make([]map[string][]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, byN[n])
	}
	return out, nil
}

func parseFilters(params url.Values) ([]filter, error) {
	groups, err := indexed(params, "Filter")
	if err != nil {
		return nil, err
	}
	var out []filter
	for _, g := range groups {
		name := first(g["Name"])
		switch name {
		case "ServiceInstanceId", "Name", "Status", "ServiceId", "Version":
		default:
			return nil, sim.Errorf(http.StatusBadRequest, "InvalidParameter.Filter", "The filter name %q is not supported.", name)
		}
		f := filter{name: name, values: map[string]bool{}}
		for field, vs := range g {
			if strings.HasPrefix(field, "Value.") {
				for _, v := range vs {
					f.values[v] = true
				}
			}
		}
		if len(f.values) > maxFilterValues {
			return nil, sim.Errorf(http.StatusBadRequest, "InvalidParameter.Filter", "The filter %s has %d values; at most %d are allowed.", name, len(f.values), maxFilterValues)
		}
		out = append(out, f)
	}
	return out, nil
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func (f filter) match(inst *Instance) bool {
	if len(f.values) == 0 {
		return true
	}
	switch f.name {
	case "ServiceInstanceId":
		return f.values[inst.ID]
	case "Name":
		return f.values[inst.Name]
	case "Status":
		return f.values[inst.Status]
	case "ServiceId":
		return f.values[inst.ServiceID]
	case "Version":
		return f.values[inst.Version]
	}
	return false
}

func (p *Product) listServiceInstances(r *sim.Request) (any, error) {
	maxResults := 20
	if raw := r.Params.Get("MaxResults"); raw != "" {
		n, err := sim.MaxResults(raw)
		if err != nil {
			return nil, err
		}
		maxResults = n
	}
	after, err := sim.NextTokenAfter(r)
	if err != nil {
		return nil, err
	}
	filters, err := parseFilters(r.Params)
	if err != nil {
		return nil, err
	}
	tagGroups, err := indexed(r.Params, "Tag")
	if err != nil {
		return nil, err
	}

	tags := make([]sim.Tag, 0, len(tagGroups))
	for _, g := range tagGroups {
		tags = append(tags, sim.Tag{Key: first(g["Key"]), Value: first(g["Value"])})
	}

	matched := p.instances.List(r, tags, func(inst *Instance) bool {
		for _, f := range filters {
			if !f.match(inst) {
				return false
			}
		}
		return true
	})
	insts, next := sim.PageAfter(matched, after, maxResults)
	page := []serviceInstanceVO{}
	for _, inst := range insts {
		page = append(page, inst.vo())
	}
	return map[string]any{
		"ServiceInstances": page,
		"NextToken":        next,
		"MaxResults":       maxResults,
		"TotalCount":       len(matched),
	}, nil
}

func (p *Product) getServiceInstance(r *sim.Request) (any, error) {
	id := r.Params.Get("ServiceInstanceId")
	if id == "" {
		return nil, sim.Errorf(http.StatusBadRequest, "MissingParameter", "ServiceInstanceId is mandatory for this action.")
	}
	inst, ok := p.instances.Visible(r, id)
	if !ok {
		return nil, notFound(id)
	}
	return inst.detailVO(), nil
}

func notFound(id string) error {
	return sim.Errorf(http.StatusNotFound, "EntityNotExist.ServiceInstance", "The service instance %s does not exist.", id)
}

func (p *Product) upgradeServiceInstance(r *sim.Request) (any, error) {
	id := r.Params.Get("ServiceInstanceId")
	if id == "" {
		return nil, sim.Errorf(http.StatusBadRequest, "MissingParameter", "ServiceInstanceId is mandatory for this action.")
	}
	dryRun := false
	switch raw := r.Params.Get("DryRun"); raw {
	case "", "false":
	case "true":
		dryRun = true
	default:
		return nil, sim.Errorf(http.StatusBadRequest, "InvalidParameter.DryRun", "DryRun must be true or false, got %q.", raw)
	}
	tok := r.Params.Get("ClientToken")
	if len(tok) > 64 || strings.IndexFunc(tok, func(c rune) bool { return c > 127 }) >= 0 {
		return nil, sim.Errorf(http.StatusBadRequest, "InvalidParameter.ClientToken", "ClientToken must be at most 64 ASCII characters.")
	}
	// A dry run's token is kept like any call's (see the package documentation).
	if answer, seen, err := p.tokens.Replay(r, tok); seen || err != nil {
		return answer, err
	}
	inst, ok := p.instances.Visible(r, id)
	if !ok {
		return nil, notFound(id)
	}
	supplied := map[string]any{}
	if raw := r.Params.Get("Parameters"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &supplied); err != nil {
			return nil, sim.Errorf(http.StatusBadRequest, "InvalidParameter.Parameters", "Parameters must be a JSON object.")
		}
	}
	version := r.Params.Get("ServiceVersion")
	if version == "" {
		return nil, sim.Errorf(http.StatusBadRequest, "MissingParameter", "ServiceVersion is mandatory for this action.")
	}
	if inst.Status != StatusDeployed {
		return nil, sim.Errorf(http.StatusBadRequest, "CurrentStatusNotSupportOperation", "The service instance %s is %s; only a Deployed instance can be upgraded.", id, inst.Status)
	}
	upgradable := inst.Upgradable()
	if !contains(upgradable, version) {
		return nil, sim.Errorf(http.StatusBadRequest, "InvalidParameter.ServiceVersion", "The service version %s is not upgradable for %s (version %s); upgradable versions: [%s].", version, id, inst.Version, strings.Join(upgradable, ", "))
	}
	required := inst.requiredFor(version)
	if required == nil {
		required = []string{}
	}
	if dryRun {
		answer := map[string]any{"ServiceInstanceId": id, "Status": inst.Status, "UpgradeRequiredParameters": required}
		p.tokens.Remember(r, tok, answer)
		return answer, nil
	}
	var missing []string
	for _, name := range required {
		if _, ok := supplied[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, sim.Errorf(http.StatusBadRequest, "MissingParameter.Parameters", "The parameters required by service version %s are missing: %s.", version, strings.Join(missing, ", "))
	}

	inst.Upgrades++
	d := r.Duration(StateKey, DefaultDuration)
	fail := r.FailUpgrade(id)
	// Parameters stay out of the applied record: they may hold passwords.
	ch := sim.Change{Instance: id, From: map[string]any{fieldServiceVersion: inst.Version}, To: map[string]any{fieldServiceVersion: version}}
	r.Apply(ch, func(time.Time) {
		inst.Status = StatusUpgrading
		if fail {
			r.After(d, func(time.Time) {
				inst.Status = StatusDeployedFailed
				if inst.FailMode == FailRollback {
					inst.Status = StatusDeployed
				}
			})
			return
		}
		r.After(d, func(time.Time) {
			for k, v := range supplied {
				inst.Parameters[k] = v
			}
			inst.Version = version
			inst.Status = StatusDeployed
		})
	})
	answer := map[string]any{"ServiceInstanceId": id, "Status": StatusUpgrading, "UpgradeRequiredParameters": required}
	p.tokens.Remember(r, tok, answer)
	return answer, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// fieldServiceVersion is the plan's name of an instance's service version.
const fieldServiceVersion = "serviceVersion"

// Act is another actor's upgrade of a service instance to another service version (set:
// {serviceVersion: "3"}) while it is deployed.
func (p *Product) Act(id string, set map[string]any) (sim.Change, func(time.Time), error) {
	inst, ok := p.instances.Get(id)
	if !ok {
		return sim.Change{}, nil, sim.ErrUnknownInstance
	}
	v, isString := set[fieldServiceVersion].(string)
	if len(set) > 0 && (len(set) != 1 || !isString) {
		return sim.Change{}, nil, fmt.Errorf("%s: an actor sets only %s (a string)", id, fieldServiceVersion)
	}
	if inst.Status != StatusDeployed {
		return sim.Change{}, nil, fmt.Errorf("%w: %s is %s", sim.ErrBusy, id, inst.Status)
	}
	ch := sim.Change{Instance: id, From: map[string]any{fieldServiceVersion: inst.Version}, To: map[string]any{fieldServiceVersion: v}}
	return ch, func(time.Time) { inst.Version = v }, nil
}

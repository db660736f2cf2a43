package computenest

import (
	"encoding/base64"
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

// serviceVO carries the fields of the SDK's computenestsupplier.Service that matter here.
type serviceVO struct {
	ServiceId                 string   `json:"ServiceId"`
	Version                   string   `json:"Version"`
	VersionName               string   `json:"VersionName"`
	Status                    string   `json:"Status"`
	UpgradableServiceVersions []string `json:"UpgradableServiceVersions"`
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
	tags := make([]tagVO, 0, len(inst.Tags))
	for k, v := range inst.Tags {
		tags = append(tags, tagVO{Key: k, Value: v})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	params, _ := json.Marshal(maskedParameters(inst.Parameters))
	progress := int64(100)
	if inst.Status == StatusUpgrading {
		progress = 50
	}
	upgradable := inst.Upgradable()
	if upgradable == nil {
		upgradable = []string{}
	}
	return serviceInstanceVO{
		ServiceInstanceId: inst.ID,
		Name:              inst.Name,
		Status:            inst.Status,
		Parameters:        string(params),
		Progress:          progress,
		Source:            "Supplier",
		Service: serviceVO{
			ServiceId:                 inst.ServiceID,
			Version:                   inst.Version,
			VersionName:               "v" + inst.Version,
			Status:                    "Online",
			UpgradableServiceVersions: upgradable,
		},
		Tags: tags,
	}
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
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 100 {
			return nil, sim.Errorf(http.StatusBadRequest, "InvalidParameter.MaxResults", "MaxResults must be between 1 and 100, got %q.", raw)
		}
		maxResults = n
	}
	after := ""
	if tok := r.Params.Get("NextToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) == 0 {
			return nil, sim.Errorf(http.StatusBadRequest, "InvalidParameter.NextToken", "The NextToken %q is invalid.", tok)
		}
		after = string(b)
	}
	filters, err := parseFilters(r.Params)
	if err != nil {
		return nil, err
	}
	tagGroups, err := indexed(r.Params, "Tag")
	if err != nil {
		return nil, err
	}

	var matched []*Instance
	for _, inst := range p.instances {
		if inst.Region != r.Region || !r.Account.Owns(inst.Account) {
			continue
		}
		ok := true
		for _, f := range filters {
			ok = ok && f.match(inst)
		}
		for _, g := range tagGroups {
			v, has := inst.Tags[first(g["Key"])]
			ok = ok && has && (first(g["Value"]) == "" || v == first(g["Value"]))
		}
		if ok {
			matched = append(matched, inst)
		}
	}
	page := []serviceInstanceVO{}
	next := ""
	for _, inst := range matched {
		if inst.ID <= after {
			continue
		}
		if len(page) == maxResults {
			next = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].ServiceInstanceId))
			break
		}
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
	inst, ok := p.visible(r, id)
	if !ok {
		return nil, notFound(id)
	}
	return inst.vo(), nil
}

func notFound(id string) error {
	return sim.Errorf(http.StatusNotFound, "EntityNotExist.ServiceInstance", "The service instance %s does not exist.", id)
}

func (p *Product) visible(r *sim.Request, id string) (*Instance, bool) {
	inst, ok := p.byID[id]
	if !ok || inst.Region != r.Region || !r.Account.Owns(inst.Account) {
		return nil, false
	}
	return inst, true
}

// fingerprint identifies a request's parameters apart from its ClientToken.
func fingerprint(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "ClientToken" && k != "RegionId" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q;", k, params[k])
	}
	return b.String()
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
	tokenKey := ""
	if tok := r.Params.Get("ClientToken"); tok != "" {
		if len(tok) > 64 || strings.IndexFunc(tok, func(c rune) bool { return c > 127 }) >= 0 {
			return nil, sim.Errorf(http.StatusBadRequest, "InvalidParameter.ClientToken", "ClientToken must be at most 64 ASCII characters.")
		}
		if !dryRun {
			tokenKey = r.Account.Name + "\x00" + tok
			if rec, seen := p.tokens[tokenKey]; seen {
				if rec.fingerprint != fingerprint(r.Params) {
					return nil, sim.Errorf(http.StatusBadRequest, "IdempotentParameterMismatch", "The ClientToken %s was used with different parameters.", tok)
				}
				return rec.answer, nil
			}
		}
	}
	inst, ok := p.visible(r, id)
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
		return map[string]any{"ServiceInstanceId": id, "Status": inst.Status, "UpgradeRequiredParameters": required}, nil
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

	inst.Status = StatusUpgrading
	inst.Upgrades++
	d := r.Duration(StateKey, DefaultDuration)
	if r.FailUpgrade(id) {
		r.After(d, func(time.Time) { inst.Status = StatusUpgradeRollbacking })
		r.After(d+d/2, func(time.Time) { inst.Status = StatusDeployedFailed })
	} else {
		r.After(d, func(time.Time) {
			for k, v := range supplied {
				inst.Parameters[k] = v
			}
			inst.Version = version
			inst.Status = StatusDeployed
		})
	}
	answer := map[string]any{"ServiceInstanceId": id, "Status": StatusUpgrading, "UpgradeRequiredParameters": required}
	if tokenKey != "" {
		p.tokens[tokenKey] = tokenRecord{fingerprint: fingerprint(r.Params), answer: answer}
	}
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

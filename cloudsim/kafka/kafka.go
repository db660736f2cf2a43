// Package kafka simulates ApsaraMQ for Kafka (alikafka, Alibaba RPC API 2019-09-16):
// GetInstanceList and UpgradeInstanceVersion, answering with the fields the SDK's response
// structs read. It owns the kafka section of the simulator's state and the lifecycle of a
// version upgrade. It must not import a cloud SDK.
//
// # State
//
//	kafka:
//	  - id: alikafka-demo-1
//	    region: cn-hangzhou
//	    account: demo-ali      # optional owner; absent = visible to every Alibaba account
//	    status: running        # running | upgrading | upgradeFailed | deploying
//	    version: 0.10.2        # the open-source major version: 0.10.2 or 2.2.0
//	    minorLatest: false     # whether the minor version is already the latest
//	    tags: {env: demo}
//
// # Lifecycle
//
// An accepted UpgradeInstanceVersion (once visible: see the simulator's visibilityLag) moves
// the instance to upgrading (ServiceStatus 8,
// ViewInstanceStatusCode 7). After the kafka duration (default 10m, scaled) it is running
// again (5 / 2) at the target major version with the latest minor version, or, when faults
// name the instance, at its old version with ViewInstanceStatusCode 102 (upgrade failed).
//
// # Refusals
//
// alikafka answers business refusals with HTTP 200 and {"Success": false, "Code", "Message"}
// (the SDK reads Success and Code from the body). Code is a number, as the current model
// types it (400; 404 for an unknown instance), and the call log records it, so a refusal is
// not counted as accepted. The Message starts with the reason, chosen in the style of the
// alikafka error center:
//
//   - BIZ_FIELD_CHECK_INVALID: TargetVersion is neither 0.10.2 nor 2.2.0, or InstanceId is empty;
//   - BIZ_VERSION_DOWNGRADE_NOT_SUPPORT: 2.2.0 → 0.10.2, which the transition table lacks;
//   - BIZ_INSTANCE_STATUS_ERROR: the instance is not running (ViewInstanceStatusCode ≠ 2);
//   - BIZ_INSTANCE_NOT_FOUND: no such instance in the region for this account;
//   - ONS_INIT_ENV_ERROR: the call has nothing to do, the same major version on an instance
//     already at its latest minor version (minorLatest). Alibaba's own Terraform provider
//     takes this code as "no need to update version" (resource_alicloud_alikafka_instance.go).
//
// A missing RegionId is the gateway's MissingRegionId (HTTP 400), as for every RPC product.
// Over its rate cap alikafka answers ONS_SYSTEM_FLOW_CONTROL (see sim.throttledFor).
package kafka

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// Versions an instance can run.
const (
	Version0102 = "0.10.2"
	Version220  = "2.2.0"
)

// Instance states in the state file.
const (
	StatusRunning       = "running"
	StatusUpgrading     = "upgrading"
	StatusUpgradeFailed = "upgradeFailed"
	StatusDeploying     = "deploying"
)

// Refusal codes (see the package documentation).
const (
	CodeFieldInvalid      = "BIZ_FIELD_CHECK_INVALID"
	CodeDowngrade         = "BIZ_VERSION_DOWNGRADE_NOT_SUPPORT"
	CodeInstanceStatus    = "BIZ_INSTANCE_STATUS_ERROR"
	CodeInstanceNotFound  = "BIZ_INSTANCE_NOT_FOUND"
	CodeNothingToUpgrade  = "ONS_INIT_ENV_ERROR"
	DefaultUpgradeTime    = 10 * time.Minute
	stateKey              = "kafka"
	viewRunning           = 2
	viewUpgrading         = 7
	viewUpgradeFailed     = 102
	viewDeploying         = 1
	serviceRunning        = 5
	serviceUpgrading      = 8
	serviceDeploying      = 0
	maxRepeatedParameters = 50
)

// Instance is one Kafka instance in the state file and in GET /_sim/state.
type Instance struct {
	sim.Placement `yaml:",inline"`
	Status        string `yaml:"status" json:"status"`
	Version       string `yaml:"version" json:"version"`
	MinorLatest   bool   `yaml:"minorLatest,omitempty" json:"minorLatest"`
	// Upgrades counts accepted UpgradeInstanceVersion calls (for tests and auditors).
	Upgrades int `yaml:"-" json:"upgrades"`
}

type product struct {
	instances sim.Table[Instance, *Instance]
}

// New returns the alikafka product with no instances.
func New() sim.Product { return &product{} }

func (p *product) Name() string           { return "alikafka" }
func (p *product) Protocol() sim.Protocol { return sim.RPC }
func (p *product) Version() string        { return "2019-09-16" }
func (p *product) StateKey() string       { return stateKey }

func (p *product) Actions() map[string]sim.Action {
	return map[string]sim.Action{
		"GetInstanceList":        p.getInstanceList,
		"UpgradeInstanceVersion": p.upgradeInstanceVersion,
	}
}

// Load reads the kafka section: a list of instances.
func (p *product) Load(node *yaml.Node) error {
	return p.instances.Load(node, stateKey, func(inst *Instance) error {
		if inst.Status == "" {
			inst.Status = StatusRunning
		}
		switch {
		case inst.Version != Version0102 && inst.Version != Version220:
			return fmt.Errorf("version %q is not %s or %s", inst.Version, Version0102, Version220)
		case !slices.Contains([]string{StatusRunning, StatusUpgrading, StatusUpgradeFailed, StatusDeploying}, inst.Status):
			return fmt.Errorf("status %q is not running, upgrading, upgradeFailed or deploying", inst.Status)
		}
		return nil
	})
}

// Snapshot returns the instances sorted by id.
func (p *product) Snapshot() any { return p.instances.Snapshot() }

// refusal is alikafka's HTTP 200 answer to a request it will not carry out.
type refusal struct {
	Success bool   `json:"Success"`
	Code    int    `json:"Code"`
	Message string `json:"Message"`
}

// RefusalCode is the body's Code, for the call log.
func (r refusal) RefusalCode() string { return strconv.Itoa(r.Code) }

// refuse answers HTTP 200 Success:false with Code 400 (404 for an unknown instance) and
// the reason first in the Message.
func refuse(reason, format string, args ...any) (any, error) {
	code := http.StatusBadRequest
	if reason == CodeInstanceNotFound {
		code = http.StatusNotFound
	}
	return refusal{Success: false, Code: code, Message: reason + ": " + fmt.Sprintf(format, args...)}, nil
}

type tagVO struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type instanceVO struct {
	InstanceID               string `json:"InstanceId"`
	RegionID                 string `json:"RegionId"`
	Name                     string `json:"Name"`
	ServiceStatus            int    `json:"ServiceStatus"`
	ViewInstanceStatusCode   int    `json:"ViewInstanceStatusCode"`
	SpecType                 string `json:"SpecType"`
	DeployType               int    `json:"DeployType"`
	PaidType                 int    `json:"PaidType"`
	UpgradeServiceDetailInfo struct {
		Current2OpenSourceVersion string `json:"Current2OpenSourceVersion"`
	} `json:"UpgradeServiceDetailInfo"`
	Tags struct {
		TagVO []tagVO `json:"TagVO"`
	} `json:"Tags"`
}

type getInstanceListAnswer struct {
	Code         int    `json:"Code"`
	Message      string `json:"Message"`
	Success      bool   `json:"Success"`
	InstanceList struct {
		InstanceVO []instanceVO `json:"InstanceVO"`
	} `json:"InstanceList"`
}

// repeated reads Name.1, Name.2, ... (the SDK's Repeated encoding).
func repeated(r *sim.Request, name string) []string {
	var out []string
	for i := 1; i <= maxRepeatedParameters; i++ {
		v, ok := r.Params[name+"."+strconv.Itoa(i)]
		if !ok {
			break
		}
		out = append(out, v[0])
	}
	return out
}

func tagFilters(r *sim.Request) ([]sim.Tag, error) {
	var out []sim.Tag
	for i := 1; i <= maxRepeatedParameters; i++ {
		n := strconv.Itoa(i)
		key, okKey := r.Params["Tag."+n+".Key"]
		value, okValue := r.Params["Tag."+n+".Value"]
		if !okKey && !okValue {
			break
		}
		if !okKey || key[0] == "" {
			return nil, sim.Errorf(http.StatusBadRequest, "InvalidParameter", "Tag.%s.Key is empty.", n)
		}
		f := sim.Tag{Key: key[0]}
		if okValue {
			f.Value = value[0]
		}
		out = append(out, f)
	}
	return out, nil
}

func status(inst *Instance) (service, view int) {
	switch inst.Status {
	case StatusUpgrading:
		return serviceUpgrading, viewUpgrading
	case StatusUpgradeFailed:
		// The service keeps running on its old version.
		return serviceRunning, viewUpgradeFailed
	case StatusDeploying:
		return serviceDeploying, viewDeploying
	}
	return serviceRunning, viewRunning
}

// getInstanceList answers every matching instance of the region in one response:
// InstanceId.N narrows to those ids, Tag.N.Key/Value to instances carrying every tag.
func (p *product) getInstanceList(r *sim.Request) (any, error) {
	if err := sim.RequireRegion(r); err != nil {
		return nil, err
	}
	ids := repeated(r, "InstanceId")
	tags, err := tagFilters(r)
	if err != nil {
		return nil, err
	}
	out := getInstanceListAnswer{Code: 200, Message: "operation success.", Success: true}
	out.InstanceList.InstanceVO = []instanceVO{}
	for _, inst := range p.instances.List(r, tags, func(inst *Instance) bool { return len(ids) == 0 || slices.Contains(ids, inst.ID) }) {
		vo := instanceVO{InstanceID: inst.ID, RegionID: inst.Region, Name: inst.ID, SpecType: "normal", DeployType: 5, PaidType: 1}
		vo.ServiceStatus, vo.ViewInstanceStatusCode = status(inst)
		vo.UpgradeServiceDetailInfo.Current2OpenSourceVersion = inst.Version
		vo.Tags.TagVO = sim.SortedTags(inst.Tags, func(k, v string) tagVO { return tagVO{Key: k, Value: v} })
		out.InstanceList.InstanceVO = append(out.InstanceList.InstanceVO, vo)
	}
	return out, nil
}

type upgradeAnswer struct {
	Code    int    `json:"Code"`
	Message string `json:"Message"`
	Success bool   `json:"Success"`
}

// upgradeInstanceVersion follows the documented transition table: 0.10.2 → 0.10.2 or 2.2.0,
// 2.2.0 → 2.2.0; the same major version upgrades the minor version to the latest.
func (p *product) upgradeInstanceVersion(r *sim.Request) (any, error) {
	if err := sim.RequireRegion(r); err != nil {
		return nil, err
	}
	id := strings.TrimSpace(r.Params.Get("InstanceId"))
	target := r.Params.Get("TargetVersion")
	if id == "" {
		return refuse(CodeFieldInvalid, "InstanceId is mandatory for this action.")
	}
	if target != Version0102 && target != Version220 {
		return refuse(CodeFieldInvalid, "TargetVersion %q is not valid: use %s or %s.", target, Version0102, Version220)
	}
	inst, ok := p.instances.Visible(r, id)
	if !ok {
		return refuse(CodeInstanceNotFound, "The instance %s does not exist in %s.", id, r.Region)
	}
	if inst.Version == Version220 && target == Version0102 {
		return refuse(CodeDowngrade, "The instance %s runs %s; downgrading the major version to %s is not supported.", id, inst.Version, target)
	}
	if inst.Status != StatusRunning {
		return refuse(CodeInstanceStatus, "The instance %s is not running (status %s); try again when it is.", id, inst.Status)
	}
	if inst.Version == target && inst.MinorLatest {
		return refuse(CodeNothingToUpgrade, "The instance %s already runs the latest minor version of %s; there is nothing to upgrade.", id, target)
	}
	inst.Upgrades++
	fail := r.FailUpgrade(id)
	d := r.Duration(stateKey, DefaultUpgradeTime)
	ch := sim.Change{Instance: id, From: map[string]any{"version": inst.Version}, To: map[string]any{"version": target}}
	if inst.Version == target {
		ch.From["latestMinor"], ch.To["latestMinor"] = inst.MinorLatest, true
	}
	r.Apply(ch, func(time.Time) {
		inst.Status = StatusUpgrading
		r.After(d, func(time.Time) {
			if fail {
				inst.Status = StatusUpgradeFailed
				return
			}
			inst.Status = StatusRunning
			inst.Version = target
			inst.MinorLatest = true
		})
	})
	return upgradeAnswer{Code: 200, Message: "operation success.", Success: true}, nil
}

// Act is another actor's change of a Kafka instance (version, minorLatest) while it runs.
func (p *product) Act(id string, set map[string]any) (sim.Change, func(time.Time), error) {
	return p.instances.Act(id, set, func(inst *Instance) string { return sim.NotReady(inst.Status, StatusRunning) })
}

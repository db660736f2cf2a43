// Package computenest simulates Alibaba Cloud Compute Nest's supplier API
// (computenestsupplier 2021-05-21): ListServiceInstances (NextToken paging, Filter.N and
// Tag.N), GetServiceInstance and UpgradeServiceInstance (DryRun, ClientToken, Parameters),
// with the lifecycle Deployed → Upgrading → Deployed at the new version, or, when a fault
// fails the upgrade, Upgrading → DeployedFailed at the old version; an instance whose
// failMode is rollback goes back to Deployed at the old version instead, with nothing to
// show it was tried (ListServiceInstances documents no status of a failed upgrade; its
// Status enum is Created, Deploying, DeployedFailed, Deployed, Upgrading, Deleting, Deleted).
//
// It owns the "computenest" section of the simulator state and must not import a cloud SDK.
//
// Choices where the API document is silent (the provider relies on the same ones):
//   - UpgradableServiceVersions are the versions of the instance's service that are newer
//     than its current one (numeric order when both are numbers).
//   - UpgradeRequiredParameters are the target version's required parameters that the
//     instance's current parameters lack. A DryRun lists them and changes nothing; a real
//     call without one of them is refused with MissingParameter.Parameters naming them all.
//   - A DryRun checks the version and the status and changes nothing, but its ClientToken
//     is kept like any call's (the API document does not say otherwise): a real call with
//     a dry run's token is refused with IdempotentParameterMismatch (DryRun differs), and
//     a second dry run with it gets the first one's answer.
//   - Parameters whose name contains "password" or "secret" (any case) are never echoed in
//     answers or the state snapshot, as a NoEcho template parameter is not.
package computenest

import (
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"gopkg.in/yaml.v3"
)

// StateKey is this product's key in the simulator state file.
const StateKey = "computenest"

// DefaultDuration is how long an accepted upgrade takes before time scaling.
const DefaultDuration = 5 * time.Minute

// Statuses.
const (
	StatusDeployed       = "Deployed"
	StatusUpgrading      = "Upgrading"
	StatusDeployedFailed = "DeployedFailed"
)

// FailRollback is the failMode of an instance whose failed upgrade leaves no trace.
const FailRollback = "rollback"

// VersionSpec is one version of an instance's service.
type VersionSpec struct {
	// Required names the parameters the version needs.
	Required []string `yaml:"required,omitempty" json:"required,omitempty"`
}

// Instance is one simulated service instance.
type Instance struct {
	sim.Placement `yaml:",inline"`
	Name          string `yaml:"name,omitempty" json:"name,omitempty"`
	Status        string `yaml:"status,omitempty" json:"status"`
	ServiceID     string `yaml:"serviceId,omitempty" json:"serviceId"`
	// Version is the service version the instance runs.
	Version string `yaml:"version" json:"version"`
	// Parameters are the instance's current configuration parameters.
	Parameters map[string]any `yaml:"parameters,omitempty" json:"-"`
	// Versions are the service's versions, each with its required parameters.
	Versions map[string]VersionSpec `yaml:"versions,omitempty" json:"versions,omitempty"`
	// Upgrades counts accepted (not dry-run) upgrades.
	Upgrades int `yaml:"-" json:"upgrades"`
	// FailMode is how an upgrade that faults fail ends: "" DeployedFailed, FailRollback
	// Deployed at the old version.
	FailMode string `yaml:"failMode,omitempty" json:"failMode,omitempty"`
}

// ListCopy is the instance as a trailing list keeps it (sim.Table's list lag): the
// parameters an upgrade writes in place are the copy's own.
func (inst *Instance) ListCopy() Instance {
	c := *inst
	c.Parameters = maps.Clone(inst.Parameters)
	return c
}

// snapshotInstance is an Instance as /_sim/state shows it: secrets masked.
type snapshotInstance struct {
	Instance
	Parameters map[string]any `json:"parameters,omitempty"`
}

// Product is the simulated computenestsupplier API.
type Product struct {
	instances sim.Table[Instance, *Instance]
	tokens    sim.ClientTokens
}

// New returns an empty product; Load fills it.
func New() sim.Product {
	return &Product{tokens: sim.ClientTokens{}}
}

func (p *Product) Name() string           { return "computenestsupplier" }
func (p *Product) Protocol() sim.Protocol { return sim.RPC }
func (p *Product) Version() string        { return "2021-05-21" }
func (p *Product) StateKey() string       { return StateKey }

// Load reads a YAML list of instances.
func (p *Product) Load(node *yaml.Node) error {
	return p.instances.Load(node, StateKey, func(inst *Instance) error {
		if inst.Version == "" {
			return fmt.Errorf("version is required")
		}
		if inst.Status == "" {
			inst.Status = StatusDeployed
		}
		if inst.FailMode != "" && inst.FailMode != FailRollback {
			return fmt.Errorf("failMode %q: use %q or leave it out", inst.FailMode, FailRollback)
		}
		if inst.Name == "" {
			inst.Name = inst.ID
		}
		if inst.ServiceID == "" {
			inst.ServiceID = "service-" + strings.TrimPrefix(inst.ID, "si-")
		}
		if inst.Parameters == nil {
			inst.Parameters = map[string]any{}
		}
		if inst.Versions == nil {
			inst.Versions = map[string]VersionSpec{}
		}
		if _, ok := inst.Versions[inst.Version]; !ok {
			inst.Versions[inst.Version] = VersionSpec{}
		}
		return nil
	})
}

// Snapshot returns the instances, sorted by id, with secret parameters masked.
func (p *Product) Snapshot() any {
	list := p.instances.Snapshot()
	out := make([]snapshotInstance, len(list))
	for i, inst := range list {
		out[i] = snapshotInstance{Instance: inst, Parameters: maskedParameters(inst.Parameters)}
	}
	return out
}

// Actions maps the API's actions to handlers.
func (p *Product) Actions() map[string]sim.Action {
	return map[string]sim.Action{
		"ListServiceInstances":   p.listServiceInstances,
		"GetServiceInstance":     p.getServiceInstance,
		"UpgradeServiceInstance": p.upgradeServiceInstance,
	}
}

// Upgradable returns the versions newer than the current one, oldest first.
func (inst *Instance) Upgradable() []string {
	var out []string
	for v := range inst.Versions {
		if compareVersions(v, inst.Version) > 0 {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return compareVersions(out[i], out[j]) < 0 })
	return out
}

// requiredFor returns version's required parameters that the instance does not have yet.
func (inst *Instance) requiredFor(version string) []string {
	var out []string
	for _, name := range inst.Versions[version].Required {
		if _, have := inst.Parameters[name]; !have {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// compareVersions orders versions numerically when both are integers, else as strings.
func compareVersions(a, b string) int {
	ai, errA := strconv.ParseInt(a, 10, 64)
	bi, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		switch {
		case ai < bi:
			return -1
		case ai > bi:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

// secretName reports whether a service parameter must never be echoed: the rule
// upgradeplan's provider refuses literal values by (sim.IsSecretParameter).
func secretName(name string) bool { return sim.IsSecretParameter(name) }

func maskedParameters(params map[string]any) map[string]any {
	out := make(map[string]any, len(params))
	for k, v := range params {
		if secretName(k) {
			v = "******"
		}
		out[k] = v
	}
	return out
}

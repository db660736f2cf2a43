// Package amqp simulates ApsaraMQ for RabbitMQ's management API (amqp-open 2019-12-12):
// ListInstances (paged with NextToken), GetInstance and UpdateInstance, with the
// upgrade/downgrade rules of the API document, ClientToken idempotency, and a lifecycle
// SERVING → DEPLOYING → SERVING (or ABNORMAL when a fault fails the change).
//
// It owns the "rabbitmq" section of the simulator state and must not import a cloud SDK.
//
// Choices where the API documents are silent (the provider relies on the same ones):
//   - A dedicated instance is marked by GetInstance's Edition "dedicated" (else "shared"); the
//     seed document says EncryptedInstance/KmsKeyId are used "when you upgrade a shared
//     instance to an encrypted dedicated instance", so an accepted EncryptedInstance=true on
//     a shared instance makes it a dedicated, encrypted one.
//   - On a dedicated instance, UpdateInstance refuses EncryptedInstance or KmsKeyId in any
//     form ("do not include these parameters"), with InvalidParameter.EncryptedInstance.
//   - While a change runs the instance is DEPLOYING (a documented status); a change a fault
//     fails is rolled back: the instance is SERVING again with the old spec.
//   - StorageSize is answered as -1 for professional and enterprise instances, to which it
//     does not apply, as the ListInstances and GetInstance models document.
//   - Documented refusals of UpdateInstance the state can provoke: an instance with
//     overdue: true (its account's available limit is below 0) refuses an UPGRADE with
//     INSUFFICIENT_AVAILABLE_QUOTA (HTTP 400); an account named in the instance's
//     updateDeniedFor (a RAM identity without the permission) is refused any change with
//     UnauthorizedOperation (HTTP 403). Reads stay allowed.
//   - InstanceType is reported upper-case (PROFESSIONAL, as the ListInstances document's
//     example shows) and accepted in UpdateInstance in lower case.
package amqp

import (
	"fmt"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"gopkg.in/yaml.v3"
)

// StateKey is this product's key in the simulator state file.
const StateKey = "rabbitmq"

// DefaultDuration is how long an accepted UpdateInstance takes before time scaling.
const DefaultDuration = 3 * time.Minute

// Statuses.
const (
	StatusServing   = "SERVING"
	StatusDeploying = "DEPLOYING"
	StatusAbnormal  = "ABNORMAL"
)

// Spec is what UpdateInstance can change.
type Spec struct {
	InstanceType         string `yaml:"instanceType" json:"instanceType"` // professional, enterprise, vip (subscription)
	MaxPrivateTps        int64  `yaml:"maxPrivateTps" json:"maxPrivateTps"`
	MaxEipTps            int64  `yaml:"maxEipTps" json:"maxEipTps"`
	QueueCapacity        int64  `yaml:"queueCapacity" json:"queueCapacity"`
	MaxConnections       int64  `yaml:"maxConnections" json:"maxConnections"`
	StorageSize          int64  `yaml:"storageSize" json:"storageSize"`
	SupportEip           bool   `yaml:"supportEip" json:"supportEip"`
	SupportTracing       bool   `yaml:"supportTracing" json:"supportTracing"`
	TracingStorageTime   int64  `yaml:"tracingStorageTime" json:"tracingStorageTime"`
	ServerlessChargeType string `yaml:"serverlessChargeType,omitempty" json:"serverlessChargeType,omitempty"`
	Encrypted            bool   `yaml:"encrypted" json:"encrypted"`
	KmsKeyID             string `yaml:"kmsKeyId,omitempty" json:"kmsKeyId,omitempty"`
}

// Instance is one simulated RabbitMQ instance.
type Instance struct {
	sim.Placement `yaml:",inline"`
	Name          string `yaml:"name,omitempty" json:"name,omitempty"`
	Status        string `yaml:"status,omitempty" json:"status"`
	// OrderType is PRE_PAID (subscription, the default) or POST_PAID (pay-as-you-go).
	OrderType string `yaml:"orderType,omitempty" json:"orderType"`
	// Edition is "shared" (the default) or "dedicated".
	Edition  string `yaml:"edition,omitempty" json:"edition"`
	MaxVhost int64  `yaml:"maxVhost,omitempty" json:"maxVhost,omitempty"`
	// Overdue: the owner's available limit is below 0, so an UPGRADE (a purchase) is refused.
	Overdue bool `yaml:"overdue,omitempty" json:"overdue,omitempty"`
	// DeniedFor lists accounts whose UpdateInstance calls lack the permission.
	DeniedFor []string `yaml:"updateDeniedFor,omitempty" json:"updateDeniedFor,omitempty"`
	Spec      `yaml:",inline"`
	// Orders counts accepted UpdateInstance calls.
	Orders int `yaml:"-" json:"orders"`
}

// Product is the simulated amqp-open API.
type Product struct {
	instances sim.Table[Instance, *Instance]
	tokens    sim.ClientTokens
	nextOrder int64
}

// New returns an empty product; Load fills it.
func New() sim.Product {
	return &Product{tokens: sim.ClientTokens{}, nextOrder: 21000000}
}

func (p *Product) Name() string           { return "amqp-open" }
func (p *Product) Protocol() sim.Protocol { return sim.RPC }
func (p *Product) Version() string        { return "2019-12-12" }
func (p *Product) StateKey() string       { return StateKey }

// Load reads a YAML list of instances.
func (p *Product) Load(node *yaml.Node) error {
	return p.instances.Load(node, StateKey, func(inst *Instance) error {
		if inst.Status == "" {
			inst.Status = StatusServing
		}
		if inst.OrderType == "" {
			inst.OrderType = "PRE_PAID"
		}
		if inst.OrderType != "PRE_PAID" && inst.OrderType != "POST_PAID" {
			return fmt.Errorf("orderType %q is not PRE_PAID or POST_PAID", inst.OrderType)
		}
		if inst.Edition == "" {
			inst.Edition = "shared"
		}
		if inst.Edition != "shared" && inst.Edition != "dedicated" {
			return fmt.Errorf("edition %q is not shared or dedicated", inst.Edition)
		}
		if inst.InstanceType == "" {
			inst.InstanceType = "professional"
			if inst.OrderType == "POST_PAID" {
				inst.InstanceType = "serverless"
			}
		}
		if inst.Name == "" {
			inst.Name = inst.ID
		}
		if inst.MaxVhost == 0 {
			inst.MaxVhost = 50
		}
		return nil
	})
}

// Snapshot returns the instances, sorted by id.
func (p *Product) Snapshot() any { return p.instances.Snapshot() }

// Actions maps the API's actions to handlers.
func (p *Product) Actions() map[string]sim.Action {
	return map[string]sim.Action{
		"ListInstances":  p.listInstances,
		"GetInstance":    p.getInstance,
		"UpdateInstance": p.updateInstance,
	}
}

// UpdateDeniedFor reports whether the account may not change the instance.
func (inst *Instance) UpdateDeniedFor(account string) bool {
	for _, a := range inst.DeniedFor {
		if a == account {
			return true
		}
	}
	return false
}

// storageSize is StorageSize as the API answers it: -1 where it does not apply.
func (inst *Instance) storageSize() int64 {
	switch inst.InstanceType {
	case "professional", "enterprise":
		return -1
	}
	return inst.StorageSize
}

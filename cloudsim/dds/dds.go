// Package dds simulates ApsaraDB for MongoDB (dds, Alibaba RPC API 2015-12-01):
// DescribeDBInstances (paged), DescribeDBInstanceAttribute, DescribeKernelReleaseNotes and
// UpgradeDBInstanceKernelVersion, answering with the fields the SDK's response structs read.
// It owns the mongodb section of the simulator's state, the kernel release catalogue and
// the lifecycle of a minor-version (kernel) upgrade. It must not import a cloud SDK.
//
// # State
//
//	mongodb:
//	  - id: dds-demo-1
//	    region: cn-hangzhou
//	    account: demo-ali           # optional owner
//	    status: Running             # DBInstanceStatus: Running, MinorVersionUpgrading, Rebooting, ...
//	    type: replicate             # DBInstanceType: replicate or sharding
//	    engineVersion: "4.4"
//	    kernelVersion: mongodb_20230215_4.4.18   # CurrentKernelVersion
//	    replicationFactor: 3        # 1 = standalone
//	    tags: {env: demo}
//	    maintenanceWindow: 02:00Z-06:00Z   # MaintainStartTime-MaintainEndTime (UTC); this is the default
//
// # Kernel versions
//
// The state names kernels as the release notes do, "mongodb_<release date>_<engine
// major.minor>.<patch>", and DescribeKernelReleaseNotes lists the built-in catalogue
// (ReleaseNotes.ReleaseNote[] of {KernelVersion, ReleaseNote}) for every engine version,
// oldest first; with KernelVersion (either spelling) it lists the kernels of that engine
// version later than that one, as the current model documents. An instance's
// CurrentKernelVersion is answered in the instance spelling the current model documents,
// "<major.minor.patch>-<release date>000000_0" (e.g. 4.4.29-20240611000000_0), and only by
// DescribeDBInstanceAttribute: the current DescribeDBInstances has no kernel field. The
// newest kernel of an engine version is the one with the highest patch number.
//
// # Region
//
// DescribeDBInstances takes RegionId. DescribeDBInstanceAttribute,
// DescribeKernelReleaseNotes and UpgradeDBInstanceKernelVersion have none in the current
// model: without one they find the caller's instance in any region; with one, it must be
// the instance's.
//
// # Lifecycle
//
// An accepted UpgradeDBInstanceKernelVersion with SwitchMode 0 (or none) moves the instance
// to MinorVersionUpgrading at once; with SwitchMode 1 the instance stays Running until its
// next maintenance window starts, then does the same. After the mongodb duration (default
// 15m, scaled) it is Running on the newest kernel of its engine version. When faults name the instance the upgrade rolls back, as dds does: the
// instance is Running again on its old kernel (dds has no failed status).
//
// # Refusals (chosen after the dds error center's naming)
//
//   - MissingParameter (400): DBInstanceId absent;
//   - InvalidParameter (400): a SwitchMode other than 0 or 1, a KernelVersion in neither
//     spelling;
//   - InvalidDBInstanceId.NotFound (404): no such instance in the region for this account;
//   - OperationDenied.DBInstanceType (403): a standalone instance (replicate with
//     ReplicationFactor 1), which the API documents as unsupported;
//   - OperationDenied.DBInstanceStatus (403): the instance is not Running;
//   - OperationDenied.KernelVersion (403): the instance already runs the newest kernel;
//   - InvalidParameter (400): DescribeDBInstances with a PageSize other than 30, 50, 100, a
//     PageNumber below 1, or a DBInstanceType other than replicate or sharding.
//
// # Listing by type
//
// DescribeDBInstances lists one DBInstanceType per call, as the API documents: "replicate"
// (replica sets and standalone instances) or "sharding" (sharded clusters), and a call
// without DBInstanceType lists replica sets only (the documented default). A client that
// never sends DBInstanceType therefore never sees a sharded cluster, here as on the cloud.
package dds

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// Statuses and types the simulator uses.
const (
	StatusRunning   = "Running"
	StatusUpgrading = "MinorVersionUpgrading"
	TypeReplicate   = "replicate"
	TypeSharding    = "sharding"
)

// Refusal codes (see the package documentation).
const (
	CodeNotFound       = "InvalidDBInstanceId.NotFound"
	CodeInstanceType   = "OperationDenied.DBInstanceType"
	CodeInstanceStatus = "OperationDenied.DBInstanceStatus"
	CodeKernelLatest   = "OperationDenied.KernelVersion"
	CodeInvalidParam   = "InvalidParameter"
)

// DefaultUpgradeTime is a kernel upgrade's duration before time scaling.
const DefaultUpgradeTime = 15 * time.Minute

const stateKey = "mongodb"

// Instance is one MongoDB instance in the state file and in GET /_sim/state.
type Instance struct {
	sim.Placement     `yaml:",inline"`
	Status            string `yaml:"status" json:"status"`
	Type              string `yaml:"type" json:"type"`
	EngineVersion     string `yaml:"engineVersion" json:"engineVersion"`
	KernelVersion     string `yaml:"kernelVersion" json:"kernelVersion"`
	ReplicationFactor int    `yaml:"replicationFactor,omitempty" json:"replicationFactor,omitempty"`
	MaintenanceWindow string `yaml:"maintenanceWindow,omitempty" json:"maintenanceWindow,omitempty"`
	// Upgrades counts accepted UpgradeDBInstanceKernelVersion calls.
	Upgrades int `yaml:"-" json:"upgrades"`
}

type product struct {
	instances sim.Table[Instance, *Instance]
}

// New returns the dds product with no instances.
func New() sim.Product { return &product{} }

func (p *product) Name() string           { return "dds" }
func (p *product) Protocol() sim.Protocol { return sim.RPC }
func (p *product) Version() string        { return "2015-12-01" }
func (p *product) StateKey() string       { return stateKey }

func (p *product) Actions() map[string]sim.Action {
	return map[string]sim.Action{
		"DescribeDBInstances":            p.describeDBInstances,
		"DescribeDBInstanceAttribute":    p.describeDBInstanceAttribute,
		"DescribeKernelReleaseNotes":     p.describeKernelReleaseNotes,
		"UpgradeDBInstanceKernelVersion": p.upgradeKernel,
	}
}

// Load reads the mongodb section: a list of instances.
func (p *product) Load(node *yaml.Node) error {
	return p.instances.Load(node, stateKey, func(inst *Instance) error {
		if inst.Status == "" {
			inst.Status = StatusRunning
		}
		if inst.Type == "" {
			inst.Type = TypeReplicate
		}
		switch {
		case inst.Type != TypeReplicate && inst.Type != TypeSharding:
			return fmt.Errorf("type %q is not replicate or sharding", inst.Type)
		case inst.EngineVersion == "" || inst.KernelVersion == "":
			return fmt.Errorf("engineVersion and kernelVersion are required")
		}
		if _, err := untilWindowErr(inst.MaintenanceWindow, time.Time{}); err != nil {
			return err
		}
		if e, _, ok := splitKernel(inst.KernelVersion); !ok || e != inst.EngineVersion {
			return fmt.Errorf("kernelVersion %q is not a kernel of engine %s (mongodb_<date>_%s.<patch>)", inst.KernelVersion, inst.EngineVersion, inst.EngineVersion)
		}
		return nil
	})
}

// Snapshot returns the instances sorted by id.
func (p *product) Snapshot() any { return p.instances.Snapshot() }

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type dbInstance struct {
	DBInstanceID          string `json:"DBInstanceId"`
	DBInstanceDescription string `json:"DBInstanceDescription"`
	RegionID              string `json:"RegionId"`
	ZoneID                string `json:"ZoneId"`
	Engine                string `json:"Engine"`
	EngineVersion         string `json:"EngineVersion"`
	CurrentKernelVersion  string `json:"CurrentKernelVersion,omitempty"`
	DBInstanceType        string `json:"DBInstanceType"`
	DBInstanceStatus      string `json:"DBInstanceStatus"`
	DBInstanceClass       string `json:"DBInstanceClass"`
	ReplicationFactor     string `json:"ReplicationFactor"`
	ChargeType            string `json:"ChargeType"`
	NetworkType           string `json:"NetworkType"`
	LockMode              string `json:"LockMode"`
	Tags                  struct {
		Tag []tag `json:"Tag"`
	} `json:"Tags"`
}

func render(inst *Instance, withKernel bool) dbInstance {
	d := dbInstance{
		DBInstanceID: inst.ID, DBInstanceDescription: inst.ID, RegionID: inst.Region, ZoneID: inst.Region + "-h",
		Engine: "MongoDB", EngineVersion: inst.EngineVersion, DBInstanceType: inst.Type, DBInstanceStatus: inst.Status,
		DBInstanceClass: "dds.mongo.standard", ChargeType: "PostPaid", NetworkType: "VPC", LockMode: "Unlock",
	}
	if inst.ReplicationFactor > 0 {
		d.ReplicationFactor = strconv.Itoa(inst.ReplicationFactor)
	}
	if withKernel {
		d.CurrentKernelVersion = instanceSpelling(inst.KernelVersion)
	}
	d.Tags.Tag = sim.SortedTags(inst.Tags, func(k, v string) tag { return tag{Key: k, Value: v} })
	return d
}

type describeDBInstancesAnswer struct {
	TotalCount  int `json:"TotalCount"`
	PageNumber  int `json:"PageNumber"`
	PageSize    int `json:"PageSize"`
	DBInstances struct {
		DBInstance []dbInstance `json:"DBInstance"`
	} `json:"DBInstances"`
}

func intParam(r *sim.Request, name string, def int) (int, bool) {
	s := r.Params.Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// describeDBInstances pages the region's instances of one DBInstanceType (replicate when
// absent) sorted by id, narrowed by DBInstanceId, DBInstanceStatus and Tag.N.Key/Value
// (every tag must match).
func (p *product) describeDBInstances(r *sim.Request) (any, error) {
	if err := sim.RequireRegion(r); err != nil {
		return nil, err
	}
	size, ok := intParam(r, "PageSize", 30)
	if !ok || (size != 30 && size != 50 && size != 100) {
		return nil, sim.Errorf(http.StatusBadRequest, CodeInvalidParam, "The specified parameter PageSize is not valid: use 30, 50 or 100.")
	}
	page, ok := intParam(r, "PageNumber", 1)
	if !ok || page < 1 {
		return nil, sim.Errorf(http.StatusBadRequest, CodeInvalidParam, "The specified parameter PageNumber is not valid.")
	}
	typ := r.Params.Get("DBInstanceType")
	switch typ {
	case "":
		typ = TypeReplicate
	case TypeReplicate, TypeSharding:
	default:
		return nil, sim.Errorf(http.StatusBadRequest, CodeInvalidParam, "The specified parameter DBInstanceType %q is not valid: use replicate or sharding.", typ)
	}
	tags := map[string]string{}
	for i := 1; ; i++ {
		key, okKey := r.Params["Tag."+strconv.Itoa(i)+".Key"]
		if !okKey {
			break
		}
		tags[key[0]] = r.Params.Get("Tag." + strconv.Itoa(i) + ".Value")
	}
	// A key given twice filters by its last value.
	want := make([]sim.Tag, 0, len(tags))
	for k, v := range tags {
		want = append(want, sim.Tag{Key: k, Value: v})
	}
	id, status := r.Params.Get("DBInstanceId"), r.Params.Get("DBInstanceStatus")
	match := p.instances.List(r, want, func(inst *Instance) bool {
		return (id == "" || inst.ID == id) && inst.Type == typ && (status == "" || inst.Status == status)
	})
	out := describeDBInstancesAnswer{TotalCount: len(match), PageNumber: page, PageSize: size}
	out.DBInstances.DBInstance = []dbInstance{}
	for _, inst := range sim.Window(match, (page-1)*size, size) {
		out.DBInstances.DBInstance = append(out.DBInstances.DBInstance, render(inst, false))
	}
	return out, nil
}

// lookup finds DBInstanceId for an action whose current model has no RegionId: in any
// region when the request names none, else in that region.
func (p *product) lookup(r *sim.Request) (*Instance, error) {
	id := r.Params.Get("DBInstanceId")
	if id == "" {
		return nil, sim.Errorf(http.StatusBadRequest, "MissingParameter", "The input parameter \"DBInstanceId\" that is mandatory for processing this request is not supplied.")
	}
	inst, ok := p.instances.Get(id)
	if ok && (!r.Account.Owns(inst.Account) || (r.Region != "" && r.Region != inst.Region)) {
		ok = false
	}
	if !ok {
		return nil, sim.Errorf(http.StatusNotFound, CodeNotFound, "The specified instance %s is not found.", id)
	}
	return inst, nil
}

func (p *product) describeDBInstanceAttribute(r *sim.Request) (any, error) {
	inst, err := p.lookup(r)
	if err != nil {
		return nil, err
	}
	var out struct {
		DBInstances struct {
			DBInstance []dbInstance `json:"DBInstance"`
		} `json:"DBInstances"`
	}
	out.DBInstances.DBInstance = []dbInstance{render(inst, true)}
	return out, nil
}

func (p *product) describeKernelReleaseNotes(r *sim.Request) (any, error) {
	notes, err := releaseNotesAfter(r.Params.Get("KernelVersion"))
	if err != nil {
		return nil, err
	}
	var out struct {
		ReleaseNotes struct {
			ReleaseNote []ReleaseNote `json:"ReleaseNote"`
		} `json:"ReleaseNotes"`
	}
	out.ReleaseNotes.ReleaseNote = notes
	return out, nil
}

func (p *product) upgradeKernel(r *sim.Request) (any, error) {
	inst, err := p.lookup(r)
	if err != nil {
		return nil, err
	}
	mode := r.Params.Get("SwitchMode")
	if mode != "" && mode != "0" && mode != "1" {
		return nil, sim.Errorf(http.StatusBadRequest, CodeInvalidParam, "The specified parameter SwitchMode %q is not valid: use 0 (now) or 1 (maintenance window).", mode)
	}
	if inst.Type == TypeReplicate && inst.ReplicationFactor == 1 {
		return nil, sim.Errorf(http.StatusForbidden, CodeInstanceType,
			"The operation is not permitted due to type of instance: %s is a standalone instance; only replica set and sharded cluster instances can upgrade the kernel version.", inst.ID)
	}
	if inst.Status != StatusRunning {
		return nil, sim.Errorf(http.StatusForbidden, CodeInstanceStatus,
			"The operation is not permitted due to status of instance: %s is %s, not Running.", inst.ID, inst.Status)
	}
	newest := NewestKernel(inst.EngineVersion)
	_, have, _ := splitKernel(inst.KernelVersion)
	if _, best, _ := splitKernel(newest); newest == "" || best <= have {
		return nil, sim.Errorf(http.StatusForbidden, CodeKernelLatest, "The kernel version %s of %s is already the latest.", inst.KernelVersion, inst.ID)
	}
	inst.Upgrades++
	fail := r.FailUpgrade(inst.ID)
	d := r.Duration(stateKey, DefaultUpgradeTime)
	// The record spells from as DescribeDBInstanceAttribute answers it and to as the
	// release notes do: the values a plan reads.
	ch := sim.Change{Instance: inst.ID, From: map[string]any{"kernelVersion": instanceSpelling(inst.KernelVersion)}, To: map[string]any{"kernelVersion": newest}}
	r.Apply(ch, func(now time.Time) {
		wait := time.Duration(0)
		if mode == "1" {
			wait = untilWindow(inst.MaintenanceWindow, now)
		}
		if wait == 0 {
			inst.Status = StatusUpgrading
		} else {
			r.After(wait, func(time.Time) { inst.Status = StatusUpgrading })
		}
		r.After(wait+d, func(time.Time) {
			inst.Status = StatusRunning
			if !fail {
				inst.KernelVersion = newest
			}
		})
	})
	return nil, nil
}

// Act is another actor's change of a MongoDB instance (kernelVersion) while it runs.
func (p *product) Act(id string, set map[string]any) (sim.Change, func(time.Time), error) {
	return p.instances.Act(id, set, func(inst *Instance) string { return sim.NotReady(inst.Status, StatusRunning) })
}

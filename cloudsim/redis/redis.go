// Package redis simulates TencentDB for Redis, API 2018-04-12 (Tencent Cloud API 3.0):
// DescribeInstances, UpgradeInstance and DescribeInstanceDealDetail, with the sizes, statuses,
// rules and error codes the real API documents. It owns the redis section of the simulator's
// state and the lifecycle of a spec change. It must not import a cloud SDK.
//
// Lifecycle of an accepted UpgradeInstance: the instance goes to Status 1 (in a workflow) and
// its deal to status 3 (delivering). After the redis duration it is back at Status 2 with the
// new sizes and the deal at status 4 (delivered). When faults name the instance, the change
// fails the way a failed Tencent delivery looks: the deal ends at status 5 (delivery failed)
// and the instance is back at Status 2 with its old sizes.
package redis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"gopkg.in/yaml.v3"
)

// Instance statuses as DescribeInstances reports them.
const (
	StatusInWorkflow int64 = 1
	StatusRunning    int64 = 2
)

// Deal statuses as DescribeInstanceDealDetail reports them (1 unpaid ... 12 paying; the
// simulator uses these).
const (
	DealDelivering int64 = 3
	DealDelivered  int64 = 4
	DealFailed     int64 = 5
	DealRefunded   int64 = 6
)

// Limits of a spec, as the simulator enforces them.
const (
	maxPageSize  = 1000
	defaultLimit = 20
	minMemSizeMB = 1024
	maxMemSizeMB = 65536
	maxReplicas  = 5
	maxDealIDs   = 10 // DescribeInstanceDealDetail: "数组最大长度限制为10"
)

// DefaultDuration is how long a spec change takes before time scaling, unless the state
// file's durations say otherwise.
const DefaultDuration = 2 * time.Minute

// Instance is one Redis instance in the state file and in GET /_sim/state.
type Instance struct {
	sim.Placement `yaml:",inline"`
	Status        int64 `yaml:"status" json:"status"`
	// MemSizeMB is the memory of one shard (RedisShardSize, UpgradeInstance's MemSize).
	MemSizeMB int64  `yaml:"memSizeMB" json:"memSizeMB"`
	Shards    int64  `yaml:"shards" json:"shards"`
	Replicas  int64  `yaml:"replicas" json:"replicas"`
	Version   string `yaml:"redisVersion,omitempty" json:"redisVersion,omitempty"`
	// ProductType is "cluster" (the default) or "standalone" (the standard architecture).
	ProductType string `yaml:"productType,omitempty" json:"productType"`
	// Type is InstanceSet.Type; 0 derives it from the version and ProductType.
	Type int64 `yaml:"type,omitempty" json:"type,omitempty"`
	// Zones are the nodes' zones, the primary's first; more than one zone is multi-AZ.
	Zones []string `yaml:"zones,omitempty" json:"zones,omitempty"`
	// FailDealStatus is the deal status a change that faults fail ends with: 5 (delivery
	// failed) by default, or 6-11 (refunded, closed, expired, invalid, ...).
	FailDealStatus int64 `yaml:"failDealStatus,omitempty" json:"failDealStatus,omitempty"`
	// DealNameOnly makes UpgradeInstance answer DealName without the deprecated DealId (the
	// current model marks DealId deprecated, api.json#L14413), so a deal can be asked for
	// only by its name, which is digits too.
	DealNameOnly bool `yaml:"dealNameOnly,omitempty" json:"dealNameOnly,omitempty"`
}

type deal struct {
	id       string
	account  string
	instance string
	status   int64
	created  time.Time
	ended    time.Time
}

type product struct {
	instances sim.Table[Instance, *Instance]
	deals     map[string]*deal
	nextDeal  int64
}

// New returns the redis product with no instances.
func New() sim.Product {
	return &product{deals: map[string]*deal{}, nextDeal: 6954227}
}

func (p *product) Name() string           { return "redis" }
func (p *product) Protocol() sim.Protocol { return sim.TC3 }
func (p *product) Version() string        { return "2018-04-12" }
func (p *product) StateKey() string       { return "redis" }

func (p *product) Actions() map[string]sim.Action {
	return map[string]sim.Action{
		"DescribeInstances":          p.describeInstances,
		"UpgradeInstance":            p.upgradeInstance,
		"DescribeInstanceDealDetail": p.describeInstanceDealDetail,
	}
}

// Load reads the state file's redis section: a list of instances.
func (p *product) Load(node *yaml.Node) error {
	return p.instances.Load(node, p.StateKey(), func(inst *Instance) error {
		if inst.MemSizeMB <= 0 || inst.Shards <= 0 || inst.Replicas < 0 {
			return fmt.Errorf("memSizeMB and shards must be positive, replicas not negative")
		}
		if inst.ProductType == "" {
			inst.ProductType = ProductCluster
		}
		if inst.ProductType != ProductCluster && inst.ProductType != ProductStandalone {
			return fmt.Errorf("productType %q is not cluster or standalone", inst.ProductType)
		}
		if inst.Status == 0 {
			inst.Status = StatusRunning
		}
		return nil
	})
}

// Snapshot returns the instances sorted by id.
func (p *product) Snapshot() any { return p.instances.Snapshot() }

func decode(r *sim.Request, v any) error {
	body := r.Body
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return sim.Errorf(http.StatusOK, "InvalidParameter", "the request body is not valid for %s: %v", r.Action, err)
	}
	return nil
}

type tagInfo struct {
	TagKey   *string `json:"TagKey,omitempty"`
	TagValue *string `json:"TagValue,omitempty"`
}

type describeInstancesRequest struct {
	Limit        *int64    `json:"Limit"`
	Offset       *int64    `json:"Offset"`
	InstanceId   *string   `json:"InstanceId"`
	InstanceIds  []string  `json:"InstanceIds"`
	SearchKeys   []string  `json:"SearchKeys"`
	InstanceTags []tagInfo `json:"InstanceTags"`
	TagKeys      []string  `json:"TagKeys"`
	Status       []int64   `json:"Status"`
}

type instanceSet struct {
	InstanceId          string          `json:"InstanceId"`
	InstanceName        string          `json:"InstanceName"`
	Region              string          `json:"Region"`
	Status              int64           `json:"Status"`
	Size                float64         `json:"Size"`
	RedisShardSize      int64           `json:"RedisShardSize"`
	RedisShardNum       int64           `json:"RedisShardNum"`
	RedisReplicasNum    int64           `json:"RedisReplicasNum"`
	CurrentRedisVersion string          `json:"CurrentRedisVersion,omitempty"`
	InstanceTags        []tagInfo       `json:"InstanceTags"`
	ProductType         string          `json:"ProductType"`
	Type                int64           `json:"Type"`
	NodeSet             []redisNodeInfo `json:"NodeSet"`
}

func (p *product) describeInstances(r *sim.Request) (any, error) {
	var req describeInstancesRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	limit, offset := int64(defaultLimit), int64(0)
	if req.Limit != nil {
		limit = *req.Limit
	}
	if req.Offset != nil {
		offset = *req.Offset
	}
	if limit < 1 || limit > maxPageSize {
		return nil, sim.Errorf(http.StatusOK, "InvalidParameterValue", "Limit must be between 1 and %d, got %d", maxPageSize, limit)
	}
	if offset < 0 {
		return nil, sim.Errorf(http.StatusOK, "InvalidParameterValue", "Offset must not be negative, got %d", offset)
	}
	var tags []sim.Tag
	for _, t := range req.InstanceTags {
		if t.TagKey == nil || *t.TagKey == "" {
			return nil, sim.Errorf(http.StatusOK, "InvalidParameterValue", "InstanceTags.TagKey must not be empty")
		}
		f := sim.Tag{Key: *t.TagKey}
		if t.TagValue != nil {
			f.Value, f.Exact = *t.TagValue, true
		}
		tags = append(tags, f)
	}
	for _, k := range req.TagKeys {
		tags = append(tags, sim.Tag{Key: k})
	}

	matched := p.instances.List(r, tags, req.matches)
	set := []instanceSet{}
	for _, inst := range sim.Window(matched, int(offset), int(limit)) {
		set = append(set, toSet(inst))
	}
	return struct {
		TotalCount  int64
		InstanceSet []instanceSet
	}{int64(len(matched)), set}, nil
}

// matches applies DescribeInstances' filters other than tags: every given filter must
// hold (InstanceId, InstanceIds, SearchKeys by exact id, Status).
func (q *describeInstancesRequest) matches(inst *Instance) bool {
	if q.InstanceId != nil && *q.InstanceId != "" && *q.InstanceId != inst.ID {
		return false
	}
	if len(q.InstanceIds) > 0 && !slices.Contains(q.InstanceIds, inst.ID) {
		return false
	}
	if len(q.SearchKeys) > 0 && !slices.Contains(q.SearchKeys, inst.ID) {
		return false
	}
	if len(q.Status) > 0 && !slices.Contains(q.Status, inst.Status) {
		return false
	}
	return true
}

func toSet(inst *Instance) instanceSet {
	tags := sim.SortedTags(inst.Tags, func(k, v string) tagInfo { return tagInfo{TagKey: ptr(k), TagValue: ptr(v)} })
	return instanceSet{
		InstanceId:          inst.ID,
		InstanceName:        inst.ID,
		Region:              inst.Region,
		Status:              inst.Status,
		Size:                float64(inst.MemSizeMB * inst.Shards),
		RedisShardSize:      inst.MemSizeMB,
		RedisShardNum:       inst.Shards,
		RedisReplicasNum:    inst.Replicas,
		CurrentRedisVersion: inst.Version,
		InstanceTags:        tags,
		ProductType:         inst.ProductType,
		Type:                inst.typeOf(),
		NodeSet:             inst.nodes(),
	}
}

func ptr[T any](v T) *T { return &v }

type upgradeInstanceRequest struct {
	InstanceId       *string         `json:"InstanceId"`
	MemSize          *int64          `json:"MemSize"`
	RedisShardNum    *int64          `json:"RedisShardNum"`
	RedisReplicasNum *int64          `json:"RedisReplicasNum"`
	NodeSet          []redisNodeInfo `json:"NodeSet"`
	SwitchOption     *int64          `json:"SwitchOption"`
}

func (p *product) upgradeInstance(r *sim.Request) (any, error) {
	var req upgradeInstanceRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.InstanceId == nil || *req.InstanceId == "" {
		return nil, sim.Errorf(http.StatusOK, "MissingParameter", "The request is missing a required parameter `InstanceId`.")
	}
	if req.MemSize == nil {
		return nil, sim.Errorf(http.StatusOK, "MissingParameter", "The request is missing a required parameter `MemSize`.")
	}
	inst, ok := p.instances.Visible(r, *req.InstanceId)
	if !ok {
		return nil, sim.Errorf(http.StatusOK, "ResourceNotFound.InstanceNotExists", "No Redis instance found by the serialId %s.", *req.InstanceId)
	}
	if inst.Status != StatusRunning {
		return nil, sim.Errorf(http.StatusOK, "ResourceUnavailable.InstanceStatusAbnormal",
			"The Redis status is exceptional (Status %d), and the corresponding process cannot be executed.", inst.Status)
	}
	mem, shards, replicas := *req.MemSize, inst.Shards, inst.Replicas
	if req.RedisShardNum != nil {
		shards = *req.RedisShardNum
	}
	if req.RedisReplicasNum != nil {
		replicas = *req.RedisReplicasNum
	}
	if mem <= 0 || mem%1024 != 0 {
		return nil, sim.Errorf(http.StatusOK, "LimitExceeded.InvalidMemSize",
			"The requested capacity %d MB is not in the capacity specifications (memSize should be an integral multiple of 1024 in MB).", mem)
	}
	if mem < minMemSizeMB || mem > maxMemSizeMB {
		return nil, sim.Errorf(http.StatusOK, "InvalidParameterValue.MemSizeNotInRange",
			"The requested capacity %d MB is out of the purchasable range %d-%d MB per shard.", mem, minMemSizeMB, maxMemSizeMB)
	}
	if mem < inst.MemSizeMB {
		return nil, sim.Errorf(http.StatusOK, "InvalidParameterValue.ReduceCapacityNotAllowed",
			"The request capacity %d MB is smaller than the current %d MB. Capacity reduction is not supported.", mem, inst.MemSizeMB)
	}
	if err := inst.checkSpec(shards, replicas); err != nil {
		return nil, err
	}
	var changed []string
	if mem != inst.MemSizeMB {
		changed = append(changed, "MemSize")
	}
	if shards != inst.Shards {
		changed = append(changed, "RedisShardNum")
	}
	if replicas != inst.Replicas {
		changed = append(changed, "RedisReplicasNum")
	}
	switch len(changed) {
	case 0:
		return nil, sim.Errorf(http.StatusOK, "InvalidParameter.InvalidParameter",
			"The requested specification equals the current one of %s.", inst.ID)
	case 1:
	default:
		return nil, sim.Errorf(http.StatusOK, "InvalidParameter.InvalidParameter",
			"Only one of MemSize, RedisShardNum and RedisReplicasNum may change per call; this call changes %s.", strings.Join(changed, " and "))
	}
	if err := inst.checkNodeSet(replicas, req.NodeSet); err != nil {
		return nil, err
	}

	p.nextDeal++
	d := &deal{id: strconv.FormatInt(p.nextDeal, 10), account: r.Account.Name, instance: inst.ID, status: DealDelivering, created: r.Now}
	p.deals[d.id] = d
	fail := r.FailUpgrade(inst.ID)
	dur := r.Duration(p.StateKey(), DefaultDuration)
	before := *inst
	after := before
	after.MemSizeMB, after.Shards, after.Replicas = mem, shards, replicas
	r.Apply(sim.Diff(inst.ID, sizes(before), sizes(after)), func(time.Time) {
		inst.Status = StatusInWorkflow
		r.After(dur, func(now time.Time) {
			inst.Status = StatusRunning
			d.ended = now
			if fail {
				d.status = DealFailed
				if inst.FailDealStatus != 0 {
					d.status = inst.FailDealStatus
				}
				return
			}
			inst.MemSizeMB, inst.Shards, inst.Replicas = mem, shards, replicas
			d.status = DealDelivered
		})
	})
	if inst.DealNameOnly {
		return struct{ DealName string }{dealName(d.id)}, nil
	}
	return struct{ DealId, DealName string }{d.id, dealName(d.id)}, nil
}

type tradeDealDetail struct {
	DealId      string
	DealName    string
	GoodsNum    int64
	Creater     string
	CreatTime   string
	OverdueTime string
	EndTime     string
	Status      int64
	Description string
	Price       int64
	InstanceIds []string
}

var dealDescriptions = map[int64]string{
	DealDelivering: "delivering",
	DealDelivered:  "delivered",
	DealFailed:     "delivery failed",
	DealRefunded:   "refunded",
	7:              "order closed",
	8:              "order expired",
	9:              "order invalid",
	10:             "product invalid",
	11:             "proxy payment refused",
}

func (p *product) describeInstanceDealDetail(r *sim.Request) (any, error) {
	var req struct {
		DealIds  []string `json:"DealIds"`
		DealName *string  `json:"DealName"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	ids := req.DealIds
	if req.DealName != nil && *req.DealName != "" {
		for id := range p.deals {
			if dealName(id) == *req.DealName {
				ids = append(ids, id)
			}
		}
		if len(ids) == len(req.DealIds) {
			ids = append(ids, "") // an unknown name finds nothing
		}
	}
	switch {
	case len(ids) == 0:
		return nil, sim.Errorf(http.StatusOK, "MissingParameter", "The request is missing a required parameter `DealName` (or the deprecated `DealIds`).")
	case len(req.DealIds) > maxDealIDs:
		return nil, sim.Errorf(http.StatusOK, "InvalidParameter.InvalidParameter", "DealIds takes at most %d ids, got %d.", maxDealIDs, len(req.DealIds))
	}
	const layout = "2006-01-02 15:04:05"
	details := []tradeDealDetail{}
	for _, id := range ids {
		d, ok := p.deals[id]
		if !ok || (d.account != "" && d.account != r.Account.Name) {
			continue
		}
		dt := tradeDealDetail{
			DealId:      d.id,
			DealName:    dealName(d.id),
			GoodsNum:    1,
			Creater:     d.account,
			CreatTime:   d.created.UTC().Format(layout),
			OverdueTime: d.created.Add(24 * time.Hour).UTC().Format(layout),
			Status:      d.status,
			Description: dealDescriptions[d.status],
			InstanceIds: []string{d.instance},
		}
		if !d.ended.IsZero() {
			dt.EndTime = d.ended.UTC().Format(layout)
		}
		details = append(details, dt)
	}
	return struct{ DealDetails []tradeDealDetail }{details}, nil
}

// sizeFields are the fields an UpgradeInstance changes, as the plan names them.
type sizeFields struct {
	MemSizeMB int64 `json:"memSizeMB"`
	Shards    int64 `json:"shards"`
	Replicas  int64 `json:"replicas"`
}

func sizes(inst Instance) sizeFields { return sizeFields{inst.MemSizeMB, inst.Shards, inst.Replicas} }

// Act is another actor's change of a Redis instance's sizes (memSizeMB, shards,
// replicas) while it runs.
func (p *product) Act(id string, set map[string]any) (sim.Change, func(time.Time), error) {
	return p.instances.Act(id, set, func(inst *Instance) string {
		return sim.NotReady(fmt.Sprint(inst.Status), fmt.Sprint(StatusRunning))
	})
}

// Package mongodb is upgradeplan's alibaba.mongodb provider: ApsaraDB for MongoDB (dds
// 2015-12-01) kernel (minor version) upgrades through UpgradeDBInstanceKernelVersion.
// It owns what is special about the product: paged reads of a region (DescribeDBInstances,
// 100 per page, one listing per DBInstanceType); how it polls (the list filters by a single
// DBInstanceId or by DBInstanceStatus and lacks the kernel: a step not yet called is judged
// with one DescribeDBInstanceAttribute, and the steps in flight are followed through the
// list of the instances MinorVersionUpgrading, one page per hundred upgrades under way
// whatever the region holds, with the kernel read by id of each one no longer upgrading,
// so a step costs one judgement and one confirmation read, see Observe); resolving kernelVersion "latest" through DescribeKernelReleaseNotes, the
// rules (standalone instances cannot upgrade; the instance must be Running, so the executor
// waits instead of calling early; the instance restarts once), and how completion looks
// (Running → MinorVersionUpgrading → Running on the planned CurrentKernelVersion). SDK
// clients, endpoints, credentials and error classes come from alisdk.
package mongodb

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/dds"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/internal/alisdk"
)

// Kind is the manifest kind this package implements.
const Kind = "alibaba.mongodb"

// API actions.
const (
	ActionList         = "DescribeDBInstances"
	ActionAttribute    = "DescribeDBInstanceAttribute"
	ActionReleaseNotes = "DescribeKernelReleaseNotes"
	ActionUpgrade      = "UpgradeDBInstanceKernelVersion"
)

// PageSize is DescribeDBInstances' largest page.
const PageSize = 100

// DBInstanceType values: DescribeDBInstances lists one type per call, and documents
// TypeReplicate as the default, so a listing that omits DBInstanceType misses every sharded
// cluster; the provider lists each type in turn.
const (
	TypeReplicate = "replicate"
	TypeSharding  = "sharding"
)

// Statuses the provider acts on.
const (
	StatusRunning   = "Running"
	StatusUpgrading = "MinorVersionUpgrading"
)

// VisibilityGrace is how long an accepted upgrade may stay invisible in dds's DescribeDBInstances (status
// and values unchanged) before the executor takes an untouched instance as a call that never
// took effect. The API documents no figure; this bounds the lag the clouds show in practice.
const VisibilityGrace = time.Minute

// Spec describes alibaba.mongodb for the registry. dds documents no rate caps.
func Spec() provider.Spec {
	return provider.Spec{
		Kind:  Kind,
		Cloud: "alibaba",
		Actions: []provider.ActionSpec{
			{Name: ActionList},
			{Name: ActionAttribute},
			{Name: ActionReleaseNotes},
			{Name: ActionUpgrade, Mutating: true},
		},
		StartGrace:      StartGrace,
		VisibilityGrace: VisibilityGrace,
		New:             func(cfg provider.Config) (provider.Provider, error) { return New(cfg) },
		Recheck:         Recheck,
		// A kernel upgrade restarts the instance once; no document names a shorter one.
		ShortestOperation: provider.DefaultShortestOperation,
		// A failed kernel upgrade is Running again on the old kernel (see StartGrace).
		FailureLeavesNoTrace: true,
		// A verdict needs the kernel: one DescribeDBInstanceAttribute per instance.
		ReadPerWatch: true,
		// SwitchMode=1 upgrades in the maintenance window, maybe hours after the call.
		Deferred: inMaintenanceWindow,
	}
}

// Provider is alibaba.mongodb in one region under one account.
type Provider struct {
	region string
	pool   *alisdk.Pool

	// notes caches DescribeKernelReleaseNotes: kernel versions per engine version, newest
	// last. One call answers every engine version, so the first Plan that needs it fills it.
	notesMu sync.Mutex
	notes   map[string][]string

	// upgrading is the count of the region's MinorVersionUpgrading instances from the last
	// poll that listed them (DescribeDBInstances narrowed by DBInstanceStatus): what a
	// poll's list of the steps in flight costs, for Observe's choice between it and per-id
	// reads.
	upgrading provider.RegionSize

	// types is each instance's DBInstanceType as a read showed it, so that a poll lists
	// only the types its instances are (typesOf).
	typesMu sync.Mutex
	types   map[string]string
}

var _ provider.Provider = (*Provider)(nil)

// New opens the product for cfg.Region and cfg.Account.
func New(cfg provider.Config) (*Provider, error) {
	pool, err := alisdk.NewPool(cfg, alisdk.Options{Kind: Kind, Endpoint: Endpoint})
	if err != nil {
		return nil, err
	}
	return &Provider{region: cfg.Region, pool: pool}, nil
}

// Endpoint returns dds's real endpoint for a region: the regions below have their own, the
// others use the central mongodb.aliyuncs.com. This is the SDK's dds endpoint map, copied
// because dds.GetEndpointMap initialises a package variable lazily, which races when
// providers open concurrently.
func Endpoint(region string) string {
	switch region {
	case "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-5",
		"cn-chengdu", "cn-hongkong", "cn-huhehaote", "cn-zhangjiakou", "eu-central-1", "eu-west-1", "me-east-1",
		"us-east-1", "us-west-1":
		return "mongodb." + region + ".aliyuncs.com"
	}
	return "mongodb.aliyuncs.com"
}

// observed is one instance as the list shows it, with the kernel from the attribute call
// where one was made.
type observed struct {
	id                string
	status            string
	typ               string
	engine            string
	kernel            string
	replicationFactor string
	tags              map[string]string
}

func fromSDK(d dds.DBInstance) observed {
	o := observed{
		id: d.DBInstanceId, status: d.DBInstanceStatus, typ: d.DBInstanceType, engine: d.EngineVersion,
		kernel: d.CurrentKernelVersion, replicationFactor: d.ReplicationFactor, tags: map[string]string{},
	}
	for _, t := range d.Tags.Tag {
		o.tags[t.Key] = t.Value
	}
	return o
}

// list pages DescribeDBInstances (100 per page) for the region once per DBInstanceType
// (replicate, then sharding: a call without the type lists replica sets only), narrowed by
// tags, and by DBInstanceId when exactly one id is wanted (the API takes one id; more are
// filtered here). The current DescribeDBInstances has no CurrentKernelVersion (the SDK's
// shared struct does, so a list that carries one is used): callers read it with
// DescribeDBInstanceAttribute where they need it (kernelOf).
func (p *Provider) list(ctx context.Context, ids []string, tags map[string]string) ([]observed, error) {
	return p.listTypes(ctx, ids, tags, []string{TypeReplicate, TypeSharding}, "")
}

// listTypes is list over the listings of the given types only and, with status set, of the
// instances in that DBInstanceStatus only (the API's own filter: the pages are then those
// of the matching instances, not the region's). A read narrowed by status alone records
// its total in p.upgrading (no poll pages the whole region, so its size is not kept).
func (p *Provider) listTypes(ctx context.Context, ids []string, tags map[string]string, types []string, status string) ([]observed, error) {
	sel := provider.Selection{IDs: ids, Tags: tags}
	var out []observed
	seen := map[string]bool{}
	total := 0
	for _, typ := range types {
		var firstTotal, lastTotal, pages int
		again := false // the second pass below
		read := func(pg provider.Page) (provider.PageAnswer, error) {
			var resp *listAnswer
			err := p.pool.Invoke(ctx, alisdk.Call{Action: ActionList}, func() (requests.AcsRequest, responses.AcsResponse) {
				req := dds.CreateDescribeDBInstancesRequest()
				req.RegionId = p.region
				req.DBInstanceType = typ
				req.PageSize = requests.NewInteger(PageSize)
				req.PageNumber = requests.NewInteger(pg.Index + 1)
				if len(ids) == 1 {
					req.DBInstanceId = ids[0]
				}
				req.DBInstanceStatus = status
				if len(tags) > 0 {
					var ts []dds.DescribeDBInstancesTag
					for _, k := range slices.Sorted(maps.Keys(tags)) {
						ts = append(ts, dds.DescribeDBInstancesTag{Key: k, Value: tags[k]})
					}
					req.Tag = &ts
				}
				resp = &listAnswer{BaseResponse: &responses.BaseResponse{}}
				return req, resp
			})
			if err != nil {
				return provider.PageAnswer{}, fmt.Errorf("mongodb: list %s instances in %s (page %d): %w", typ, p.region, pg.Index+1, err)
			}
			for _, d := range resp.DBInstances.DBInstance {
				o := fromSDK(d.sdk())
				p.noteType(o.id, typ)
				if seen[o.id] || !sel.Selects(o.id, o.tags) {
					continue
				}
				seen[o.id] = true
				out = append(out, o)
			}
			if again {
				return provider.PageAnswer{}, nil
			}
			if pg.Index == 0 {
				total += resp.TotalCount
				firstTotal = resp.TotalCount
			}
			lastTotal, pages = resp.TotalCount, pg.Index+1
			return provider.PageAnswer{Items: len(resp.DBInstances.DBInstance), Size: PageSize, Total: int64(resp.TotalCount)}, nil
		}
		if err := provider.ReadPages(read); err != nil {
			return nil, err
		}
		// Instances that left the listing while it was paged (upgrades that ended, where
		// status narrows it) move the ones after them a page forward, so those at the start
		// of a later page may have been on the page before by the time it was read: read
		// the pages before the last once more (in the large bench a followed step missed
		// so cost a kernel read of the bucket that bounds MongoDB, 37 of 4,039).
		again = true
		for i := 0; status != "" && lastTotal < firstTotal && i < pages-1; i++ {
			if _, err := read(provider.Page{Index: i}); err != nil {
				return nil, err
			}
		}
	}
	if status != "" && len(tags) == 0 && len(ids) != 1 {
		// The listings this poll follows: those of the types its steps are.
		p.upgrading.Record(total)
	}
	slices.SortFunc(out, func(a, b observed) int { return strings.Compare(a.id, b.id) })
	return out, nil
}

func (p *Provider) kernelOf(ctx context.Context, id string) (string, error) {
	d, ok, err := p.attribute(ctx, id)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("mongodb: read the kernel version of %s: %s", id, codeNotFound)
	}
	return d.CurrentKernelVersion, nil
}

// List returns every instance of the region matching sel, replica sets and sharded clusters,
// one DescribeDBInstances call per page of 100 of each DBInstanceType. It reads no kernel
// version (the list has none): kernelVersion is absent unless the list carried it, and Plan
// reads it for the instances a target plans.
func (p *Provider) List(ctx context.Context, sel provider.Selection) ([]provider.Instance, error) {
	obs, err := p.list(ctx, sel.IDs, sel.Tags)
	if err != nil {
		return nil, err
	}
	out := make([]provider.Instance, 0, len(obs))
	for _, o := range obs {
		v := provider.Values{
			"engineVersion":  o.engine,
			"dbInstanceType": o.typ,
		}
		if o.kernel != "" {
			v[FieldKernel] = o.kernel
		}
		if rf, err := strconv.Atoi(o.replicationFactor); err == nil {
			v["replicationFactor"] = int64(rf)
		}
		out = append(out, provider.Instance{ID: o.id, Region: p.region, Status: o.status, Phase: phase(o.status), Values: v, Tags: o.tags})
	}
	return out, nil
}

func phase(status string) provider.Phase {
	if status == StatusRunning {
		return provider.PhaseReady
	}
	return provider.PhaseBusy
}

// Apply sends UpgradeDBInstanceKernelVersion with the planned parameters.
func (p *Provider) Apply(ctx context.Context, call provider.Call) (provider.Receipt, error) {
	fail := func(msg string) (provider.Receipt, error) {
		return provider.Receipt{}, &provider.Error{Class: provider.ClassPermanent, Kind: Kind, Action: call.Action, Instance: call.Instance, Message: msg}
	}
	if call.DryRun {
		return fail("UpgradeDBInstanceKernelVersion has no dry run")
	}
	if call.Action != ActionUpgrade {
		return fail("unknown action for " + Kind)
	}
	id, _ := call.Params["DBInstanceId"].(string)
	region, _ := call.Params["RegionId"].(string)
	if region == "" {
		region = p.region
	}
	if id != call.Instance {
		return fail("the planned parameters name another instance")
	}
	// A plan written before SwitchMode was planned upgrades at once, as it always did.
	mode, _ := call.Params["SwitchMode"].(string)
	if mode == "" {
		mode = switchNow
	}
	if mode != switchNow && mode != switchWindow {
		return fail(fmt.Sprintf("the planned SwitchMode %q is neither 0 (now) nor 1 (maintenance window)", mode))
	}
	var resp *dds.UpgradeDBInstanceKernelVersionResponse
	err := p.pool.Invoke(ctx, alisdk.Call{Action: ActionUpgrade, Instance: id, Mutating: true},
		func() (requests.AcsRequest, responses.AcsResponse) {
			req := dds.CreateUpgradeDBInstanceKernelVersionRequest()
			req.RegionId = region
			req.DBInstanceId = id
			req.SwitchMode = mode
			resp = dds.CreateUpgradeDBInstanceKernelVersionResponse()
			return req, resp
		})
	if err != nil {
		return provider.Receipt{}, fmt.Errorf("mongodb: upgrade the kernel of %s: %w", id, err)
	}
	return provider.Receipt{RequestID: resp.RequestId}, nil
}

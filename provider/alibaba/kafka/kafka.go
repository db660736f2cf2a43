// Package kafka is upgradeplan's alibaba.kafka provider: ApsaraMQ for Kafka (alikafka
// 2019-09-16) major-version and minor-version upgrades through UpgradeInstanceVersion.
// It owns what is special about the product: reading a region's instances with one
// GetInstanceList call (the API returns every instance at once, so polling any watched set
// is one call, narrowed by InstanceId.N up to 50 ids), the transition table
// (0.10.2 → 2.2.0 only; same major → minor upgrade when latestMinor), the HTTP 200
// "Success": false refusals, and how completion looks (ViewInstanceStatusCode 2 → 7 → 2,
// 102 = upgrade failed). SDK clients, endpoints, credentials and error classes come from
// alisdk; rate limits and retries are the executor's.
package kafka

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/internal/alisdk"
)

// Kind is the manifest kind this package implements.
const Kind = "alibaba.kafka"

// API actions.
const (
	ActionList    = "GetInstanceList"
	ActionUpgrade = "UpgradeInstanceVersion"
)

// UpgradeQPS is UpgradeInstanceVersion's documented cap per account.
const UpgradeQPS = 2

// Major versions UpgradeInstanceVersion accepts.
const (
	Version0102 = "0.10.2"
	Version220  = "2.2.0"
)

// ViewInstanceStatusCode values the provider acts on. The current GetInstanceList
// documents 0 pending, 1 deploying, 2 running, 3 stopped, 4 expiring, 5 expired,
// 6 released, 7 upgrading, 8 migrating, 21 stopping, 22 starting, 23 releasing, 30 auto
// scaling, 101 deployment failed, 102 upgrade failed and 103 migration failed
// (alikafka-20190916 GetInstanceListResponseBody). The failures and the released
// instance are failed; every other code is busy, to be waited for.
const (
	viewRunning         = 2
	viewReleased        = 6
	viewUpgrading       = 7
	viewDeployFailed    = 101
	viewUpgradeFailed   = 102
	viewMigrationFailed = 103
)

// idFilterMax bounds InstanceId.N in one request; larger selections are listed whole and
// filtered here, which is still one call.
const idFilterMax = 50

// VisibilityGrace is how long an accepted upgrade may stay invisible in alikafka's GetInstanceList (status
// and values unchanged) before the executor takes an untouched instance as a call that never
// took effect. The API documents no figure; this bounds the lag the clouds show in practice.
const VisibilityGrace = 2 * time.Minute

// Spec describes alibaba.kafka for the registry.
func Spec() provider.Spec {
	return provider.Spec{
		Kind:  Kind,
		Cloud: "alibaba",
		Actions: []provider.ActionSpec{
			{Name: ActionList},
			{Name: ActionUpgrade, Mutating: true, QPS: UpgradeQPS},
		},
		IdempotencyToken: false, // none: the executor re-reads state before any resend
		StartGrace:       StartGrace,
		VisibilityGrace:  VisibilityGrace,
		New:              func(cfg provider.Config) (provider.Provider, error) { return New(cfg) },
		Recheck:          Recheck,
		// A major upgrade restarts every broker; no document names a shorter operation.
		ShortestOperation: provider.DefaultShortestOperation,
	}
}

// Provider is alibaba.kafka in one region under one account.
type Provider struct {
	region string
	pool   *alisdk.Pool
}

var _ provider.Provider = (*Provider)(nil)

// New opens the product for cfg.Region and cfg.Account.
func New(cfg provider.Config) (*Provider, error) {
	pool, err := alisdk.NewPool(cfg, alisdk.Options{Kind: Kind, Endpoint: alisdk.Regional("alikafka")})
	if err != nil {
		return nil, err
	}
	return &Provider{region: cfg.Region, pool: pool}, nil
}

// observed is one instance as GetInstanceList shows it.
type observed struct {
	id      string
	version string
	service int
	view    int
	tags    map[string]string
}

// list sends one GetInstanceList for the region, narrowed server-side by ids (when few
// enough) and tags, and returns the matches sorted by id.
func (p *Provider) list(ctx context.Context, ids []string, tags map[string]string) ([]observed, error) {
	var resp *alikafka.GetInstanceListResponse
	err := p.pool.Invoke(ctx, alisdk.Call{Action: ActionList, CheckSuccess: true},
		func() (requests.AcsRequest, responses.AcsResponse) {
			req := alikafka.CreateGetInstanceListRequest()
			req.RegionId = p.region
			if len(ids) > 0 && len(ids) <= idFilterMax {
				ids := slices.Clone(ids)
				req.InstanceId = &ids
			}
			if len(tags) > 0 {
				var ts []alikafka.GetInstanceListTag
				for _, k := range slices.Sorted(maps.Keys(tags)) {
					ts = append(ts, alikafka.GetInstanceListTag{Key: k, Value: tags[k]})
				}
				req.Tag = &ts
			}
			resp = alikafka.CreateGetInstanceListResponse()
			return req, resp
		})
	if err != nil {
		return nil, fmt.Errorf("kafka: list instances in %s: %w", p.region, err)
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []observed
	for _, vo := range resp.InstanceList.InstanceVO {
		// The API filters already; filtering again keeps a selection exact whatever it did.
		if (len(ids) > 0 && !want[vo.InstanceId]) || (vo.RegionId != "" && vo.RegionId != p.region) {
			continue
		}
		o := observed{
			id:      vo.InstanceId,
			version: vo.UpgradeServiceDetailInfo.Current2OpenSourceVersion,
			service: vo.ServiceStatus,
			view:    vo.ViewInstanceStatusCode,
			tags:    map[string]string{},
		}
		for _, t := range vo.Tags.TagVO {
			o.tags[t.Key] = t.Value
		}
		if !provider.HasTags(o.tags, tags) {
			continue
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b observed) int { return strings.Compare(a.id, b.id) })
	return out, nil
}

// List returns every instance of the region matching sel in one GetInstanceList call.
func (p *Provider) List(ctx context.Context, sel provider.Selection) ([]provider.Instance, error) {
	obs, err := p.list(ctx, sel.IDs, sel.Tags)
	if err != nil {
		return nil, err
	}
	out := make([]provider.Instance, 0, len(obs))
	for _, o := range obs {
		out = append(out, provider.Instance{
			ID:     o.id,
			Region: p.region,
			Status: statusName(o.view),
			Phase:  phase(o.view),
			Values: provider.Values{"version": o.version},
			Tags:   o.tags,
		})
	}
	return out, nil
}

func statusName(view int) string {
	switch view {
	case viewRunning:
		return "running"
	case viewUpgrading:
		return "upgrading"
	case viewUpgradeFailed:
		return "upgrade failed"
	case viewDeployFailed:
		return "deployment failed"
	case viewMigrationFailed:
		return "migration failed"
	case viewReleased:
		return "released"
	}
	return fmt.Sprintf("ViewInstanceStatusCode %d", view)
}

func phase(view int) provider.Phase {
	switch view {
	case viewRunning:
		return provider.PhaseReady
	case viewDeployFailed, viewUpgradeFailed, viewMigrationFailed, viewReleased:
		return provider.PhaseFailed
	}
	return provider.PhaseBusy
}

// Apply sends UpgradeInstanceVersion with the planned parameters. alikafka refuses with
// HTTP 200 and "Success": false; that is an error here, with the body's code.
func (p *Provider) Apply(ctx context.Context, call provider.Call) (provider.Receipt, error) {
	if call.DryRun {
		return provider.Receipt{}, &provider.Error{Class: provider.ClassPermanent, Kind: Kind, Action: call.Action, Instance: call.Instance,
			Message: "UpgradeInstanceVersion has no dry run"}
	}
	if call.Action != ActionUpgrade {
		return provider.Receipt{}, &provider.Error{Class: provider.ClassPermanent, Kind: Kind, Action: call.Action, Instance: call.Instance,
			Message: "unknown action for " + Kind}
	}
	target, _ := call.Params["TargetVersion"].(string)
	region, _ := call.Params["RegionId"].(string)
	if region == "" {
		region = p.region
	}
	id, _ := call.Params["InstanceId"].(string)
	if id == "" {
		id = call.Instance
	}
	if target == "" || id != call.Instance {
		return provider.Receipt{}, &provider.Error{Class: provider.ClassPermanent, Kind: Kind, Action: call.Action, Instance: call.Instance,
			Message: "the planned parameters lack TargetVersion or name another instance"}
	}
	var resp *alikafka.UpgradeInstanceVersionResponse
	err := p.pool.Invoke(ctx, alisdk.Call{Action: ActionUpgrade, Instance: id, Mutating: true, CheckSuccess: true},
		func() (requests.AcsRequest, responses.AcsResponse) {
			req := alikafka.CreateUpgradeInstanceVersionRequest()
			req.RegionId = region
			req.InstanceId = id
			req.TargetVersion = target
			resp = alikafka.CreateUpgradeInstanceVersionResponse()
			return req, resp
		})
	if err != nil {
		if pe, ok := provider.AsError(err); ok && nothingToUpgrade(pe) {
			pe.Class = provider.ClassNoChange
		}
		return provider.Receipt{}, fmt.Errorf("kafka: upgrade %s to %s: %w", id, target, err)
	}
	return provider.Receipt{RequestID: resp.RequestId}, nil
}

// CodeNothingToUpgrade is alikafka's refusal of an UpgradeInstanceVersion that has nothing
// to do: Alibaba's own Terraform provider takes it as "no need to update version" and
// carries on (resource_alicloud_alikafka_instance.go). A latestMinor step on an instance
// already at the latest minor version, which the API gives no way to see before the call,
// meets it on every apply after the first.
const CodeNothingToUpgrade = "ONS_INIT_ENV_ERROR"

// nothingToUpgrade says whether a refusal is CodeNothingToUpgrade: as the code, or in the
// message of an HTTP 200 "Success": false answer, whose Code is a number.
func nothingToUpgrade(pe *provider.Error) bool {
	return pe.Class == provider.ClassPermanent && (pe.Code == CodeNothingToUpgrade || strings.Contains(pe.Message, CodeNothingToUpgrade))
}

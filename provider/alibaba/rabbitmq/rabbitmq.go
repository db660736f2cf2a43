// Package rabbitmq is the provider for ApsaraMQ for RabbitMQ instance specifications
// (kind alibaba.rabbitmq, amqp-open 2019-12-12, UpdateInstance). It owns the product's
// rules: which way a change goes (UPGRADE or DOWNGRADE), splitting a mixed change in two,
// InstanceType only on subscription instances, and encryption on dedicated instances.
//
// Reading: List pages through ListInstances (100 per call; the API has no id or tag filter,
// so the selection is applied to the pages). Observe polls by id with GetInstance where that
// costs less than the region's pages, and otherwise pages only until it has seen every
// watched instance (see Observe). ListInstances does not report maxConnections,
// supportTracing, tracingStorageTime, serverlessChargeType, encrypted, kmsKeyId or the
// edition (shared or dedicated), so GetInstance — which SDK v1.63.107 lacks and which is
// called with a CommonRequest — is sent for one instance only when the desired state names
// one of those fields (in Plan), and in Observe only for a watched step whose from/to names
// one, and for a started step only once the list shows the instance SERVING again.
//
// A dedicated instance is one whose GetInstance Edition is "dedicated": the API document
// says EncryptedInstance/KmsKeyId "cannot be changed" there and must not be sent when one
// is resized, and that they are used "when you upgrade a shared instance to an encrypted
// dedicated instance".
//
// Direction: every changed size up (a bigger number, a feature switched on, a higher
// edition professional < enterprise < vip) is an UPGRADE, every one down a DOWNGRADE; a mix
// becomes two changes on the instance, the UPGRADE first with the raised values and the
// lowered ones at their current values, then the DOWNGRADE. Completion: the instance is
// SERVING with the planned values; DEPLOYING is in progress; ABNORMAL, EXPIRED and RELEASED
// are failures.
package rabbitmq

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	amqp "github.com/aliyun/alibaba-cloud-sdk-go/services/amqp-open"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/internal/alisdk"
)

// Kind is this provider's kind.
const Kind = "alibaba.rabbitmq"

// pageSize is ListInstances' largest page.
const pageSize = 100

// Statuses.
const (
	statusServing   = "SERVING"
	statusDeploying = "DEPLOYING"
)

// VisibilityGrace is how long an accepted upgrade may stay invisible in amqp-open's ListInstances and GetInstance (status
// and values unchanged) before the executor takes an untouched instance as a call that never
// took effect. The API documents no figure; this bounds the lag the clouds show in practice.
const VisibilityGrace = time.Minute

// Spec describes the product for the registry.
func Spec() provider.Spec {
	return provider.Spec{
		Kind:  Kind,
		Cloud: "alibaba",
		Actions: []provider.ActionSpec{
			{Name: "ListInstances"},
			{Name: "GetInstance"},
			{Name: ActionUpdate, Mutating: true},
		},
		IdempotencyToken: true,
		StartGrace:       StartGrace,
		VisibilityGrace:  VisibilityGrace,
		New:              func(cfg provider.Config) (provider.Provider, error) { return New(cfg) },
		Recheck:          Recheck,
		// UpdateInstance reconfigures the cluster; no document names a shorter operation.
		ShortestOperation: provider.DefaultShortestOperation,
	}
}

// Provider is RabbitMQ in one region under one account.
type Provider struct {
	region string
	pool   *alisdk.Pool

	// busy holds the accepted changes (instance/order) whose instance Observe saw busy.
	busyMu sync.Mutex
	busy   map[string]bool

	// size is the region's instance count from its last ListInstances read, for Observe's
	// choice between GetInstance per id and the region's pages.
	size provider.RegionSize
	// pageOf is the page (from 0) each instance was on in the last ListInstances read that
	// reached it, for what a poll that stops after its last watched instance costs
	// (listPages).
	pageMu sync.Mutex
	pageOf map[string]int
}

var _ provider.Provider = (*Provider)(nil)

// New opens the product for cfg.
func New(cfg provider.Config) (*Provider, error) {
	pool, err := alisdk.NewPool(cfg, alisdk.Options{Kind: Kind, Endpoint: alisdk.Regional("amqp-open", amqp.GetEndpointMap())})
	if err != nil {
		return nil, err
	}
	return &Provider{region: cfg.Region, pool: pool}, nil
}

// List returns the region's instances matching sel, sorted by id.
func (p *Provider) List(ctx context.Context, sel provider.Selection) ([]provider.Instance, error) {
	all, err := p.listAll(ctx)
	if err != nil {
		return nil, err
	}
	var out []provider.Instance
	for _, inst := range all {
		if sel.Selects(inst.ID, inst.Tags) {
			out = append(out, inst)
		}
	}
	return out, nil
}

// listAll reads every instance of the region, one ListInstances call per page.
func (p *Provider) listAll(ctx context.Context) ([]provider.Instance, error) {
	return p.listUntil(ctx, nil)
}

// listUntil pages ListInstances until every id in want was seen (nil: to the region's
// end), one call per page. A poll needs only its watched instances, and ListInstances has
// neither an id filter nor a way to skip pages (NextToken is opaque), so the pages after
// the last watched instance are all it can leave out; a read that stops early records no
// region size.
func (p *Provider) listUntil(ctx context.Context, want map[string]bool) ([]provider.Instance, error) {
	var out []provider.Instance
	seen := map[string]bool{}
	left := len(want)
	whole := true
	err := provider.ReadPages(func(pg provider.Page) (provider.PageAnswer, error) {
		var resp *listAnswer
		err := p.pool.Invoke(ctx, alisdk.Call{Action: "ListInstances"}, func() (requests.AcsRequest, responses.AcsResponse) {
			resp = &listAnswer{BaseResponse: &responses.BaseResponse{}}
			return listRequest(p.region, pg.Token), resp
		})
		if err != nil {
			return provider.PageAnswer{}, err
		}
		p.notePage(resp.Data.Instances, pg.Index)
		for _, l := range resp.Data.Instances {
			if !seen[l.InstanceId] {
				seen[l.InstanceId] = true
				out = append(out, p.fromList(l.vo()))
				if want[l.InstanceId] {
					left--
				}
			}
		}
		next := resp.Data.NextToken
		if want != nil && left == 0 && next != "" {
			next, whole = "", false // every watched instance is in: no page after this one
		}
		return provider.PageAnswer{Items: len(resp.Data.Instances), Next: next}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: list instances in %s: %w", p.region, err)
	}
	if whole {
		p.size.Record(len(out))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// notePage remembers the page each listed instance was on (listPages).
func (p *Provider) notePage(insts []listedInstance, page int) {
	p.pageMu.Lock()
	defer p.pageMu.Unlock()
	if p.pageOf == nil {
		p.pageOf = map[string]int{}
	}
	for _, l := range insts {
		p.pageOf[l.InstanceId] = page
	}
}

// listPages is what listUntil(ids) is expected to cost: the pages up to the one that held
// the last of ids in the last read that reached them, or the region's pages (as far as
// its recorded size tells) when any of them was not reached yet.
func (p *Provider) listPages(ids []string) int {
	p.pageMu.Lock()
	defer p.pageMu.Unlock()
	last := 0
	for _, id := range ids {
		pg, ok := p.pageOf[id]
		if !ok {
			return p.size.Pages(pageSize, 1)
		}
		last = max(last, pg+1)
	}
	return max(last, 1)
}

// listRequest is one ListInstances page request.
func listRequest(region, token string) *amqp.ListInstancesRequest {
	req := amqp.CreateListInstancesRequest()
	req.RegionId = region
	req.MaxResults = requests.NewInteger(pageSize)
	req.NextToken = token
	return req
}

func phaseOf(status string) provider.Phase {
	switch status {
	case statusServing:
		return provider.PhaseReady
	case "ABNORMAL", "EXPIRED", "RELEASED":
		return provider.PhaseFailed
	}
	return provider.PhaseBusy
}

func chargeType(orderType string) string {
	if orderType == "POST_PAID" {
		return "payAsYouGo"
	}
	return "subscription"
}

func (p *Provider) fromList(vo amqp.InstanceVO) provider.Instance {
	tags := map[string]string{}
	for _, t := range vo.Tags {
		tags[t.Key] = t.Value
	}
	return provider.Instance{
		ID:     vo.InstanceId,
		Region: p.region,
		Status: vo.Status,
		Phase:  phaseOf(vo.Status),
		Tags:   tags,
		Values: provider.Values{
			"instanceType":  strings.ToLower(vo.InstanceType),
			"maxPrivateTps": int64(vo.MaxTps),
			"queueCapacity": int64(vo.MaxQueue),
			"storageSize":   int64(vo.StorageSize),
			"supportEip":    vo.SupportEIP,
			"maxEipTps":     int64(vo.MaxEipTps),
			factChargeType:  chargeType(vo.OrderType),
		},
	}
}

// instanceDetail is GetInstance's Data (the fields this provider reads).
type instanceDetail struct {
	InstanceId           string `json:"InstanceId"`
	Status               string `json:"Status"`
	InstanceType         string `json:"InstanceType"`
	OrderType            string `json:"OrderType"`
	MaxTps               int64  `json:"MaxTps"`
	MaxEipTps            int64  `json:"MaxEipTps"`
	MaxQueue             int64  `json:"MaxQueue"`
	StorageSize          int64  `json:"StorageSize"`
	SupportEIP           bool   `json:"SupportEIP"`
	MaxConnections       int64  `json:"MaxConnections"`
	SupportTracing       bool   `json:"SupportTracing"`
	TracingStorageTime   int64  `json:"TracingStorageTime"`
	EncryptedInstance    bool   `json:"EncryptedInstance"`
	KmsKeyId             string `json:"KmsKeyId"`
	Edition              string `json:"Edition"`
	ServerlessChargeType string `json:"ServerlessChargeType"`
}

// getInstance calls GetInstance, which SDK v1.63.107 has no request type for.
func (p *Provider) getInstance(ctx context.Context, id string) (instanceDetail, error) {
	var resp *responses.CommonResponse
	err := p.pool.Invoke(ctx, alisdk.Call{Action: "GetInstance"}, func() (requests.AcsRequest, responses.AcsResponse) {
		req := requests.NewCommonRequest()
		req.Method = requests.POST
		req.Product = "amqp-open"
		req.Version = "2019-12-12"
		req.ApiName = "GetInstance"
		req.QueryParams["RegionId"] = p.region
		req.QueryParams["InstanceId"] = id
		req.TransToAcsRequest()
		resp = responses.NewCommonResponse()
		return req, resp
	})
	if err != nil {
		return instanceDetail{}, fmt.Errorf("rabbitmq: get instance %s in %s: %w", id, p.region, err)
	}
	var body struct {
		Data instanceDetail `json:"Data"`
	}
	if err := json.Unmarshal(resp.GetHttpContentBytes(), &body); err != nil {
		return instanceDetail{}, fmt.Errorf("rabbitmq: get instance %s in %s: unreadable answer: %w", id, p.region, err)
	}
	if body.Data.InstanceId != id {
		return instanceDetail{}, fmt.Errorf("rabbitmq: get instance %s in %s: the answer describes %q", id, p.region, body.Data.InstanceId)
	}
	return body.Data, nil
}

// withDetail returns inst's values completed with GetInstance's fields.
func withDetail(inst provider.Instance, d instanceDetail) provider.Instance {
	vals := provider.Values{}
	for k, v := range inst.Values {
		vals[k] = v
	}
	vals["maxConnections"] = d.MaxConnections
	vals["supportTracing"] = d.SupportTracing
	vals["tracingStorageTime"] = d.TracingStorageTime
	vals["serverlessChargeType"] = d.ServerlessChargeType
	vals["encrypted"] = d.EncryptedInstance
	vals["kmsKeyId"] = d.KmsKeyId
	edition := d.Edition
	if edition == "" {
		edition = "shared"
	}
	vals[factEdition] = edition
	inst.Values = vals
	return inst
}

// Plan applies the product rules (see the package comment). It calls GetInstance when want
// names a field ListInstances does not report.
func (p *Provider) Plan(ctx context.Context, inst provider.Instance, want provider.Desired) ([]provider.Change, error) {
	if needsDetail(want) {
		if _, have := inst.Values[factEdition]; !have {
			d, err := p.getInstance(ctx, inst.ID)
			if err != nil {
				return nil, err
			}
			inst = withDetail(inst, d)
		}
	}
	return planChanges(inst, want)
}

// Apply sends one UpdateInstance.
func (p *Provider) Apply(ctx context.Context, call provider.Call) (provider.Receipt, error) {
	if call.Action != ActionUpdate {
		return provider.Receipt{}, fmt.Errorf("rabbitmq: %s: unknown action %q", call.Instance, call.Action)
	}
	if call.DryRun {
		return provider.Receipt{}, fmt.Errorf("rabbitmq: %s: UpdateInstance has no dry run", call.Instance)
	}
	if id, _ := call.Params["InstanceId"].(string); id != "" && id != call.Instance {
		return provider.Receipt{}, fmt.Errorf("rabbitmq: the call names instance %s but its parameters %s", call.Instance, id)
	}
	params := map[string]string{}
	for k, v := range call.Params {
		s, err := paramString(v)
		if err != nil {
			return provider.Receipt{}, fmt.Errorf("rabbitmq: %s: parameter %s: %w", call.Instance, k, err)
		}
		params[k] = s
	}
	var resp *amqp.UpdateInstanceResponse
	err := p.pool.Invoke(ctx, alisdk.Call{Action: ActionUpdate, Instance: call.Instance, Mutating: true}, func() (requests.AcsRequest, responses.AcsResponse) {
		req := amqp.CreateUpdateInstanceRequest()
		req.RegionId = p.region
		req.InstanceId = call.Instance
		req.ClientToken = call.ClientToken
		for k, v := range params {
			switch k {
			case "InstanceId":
			case "ModifyType":
				req.ModifyType = v
			case "InstanceType":
				req.InstanceType = v
			case "ServerlessChargeType":
				req.ServerlessChargeType = v
			case "MaxPrivateTps":
				req.MaxPrivateTps = requests.Integer(v)
			case "QueueCapacity":
				req.QueueCapacity = requests.Integer(v)
			case "MaxConnections":
				req.MaxConnections = requests.Integer(v)
			case "StorageSize":
				req.StorageSize = requests.Integer(v)
			case "MaxEipTps":
				req.MaxEipTps = requests.Integer(v)
			case "TracingStorageTime":
				req.TracingStorageTime = requests.Integer(v)
			case "SupportEip":
				req.SupportEip = requests.Boolean(v)
			case "SupportTracing":
				req.SupportTracing = requests.Boolean(v)
			default:
				// EncryptedInstance and KmsKeyId: the SDK's request type lacks them.
				req.QueryParams[k] = v
			}
		}
		resp = amqp.CreateUpdateInstanceResponse()
		return req, resp
	})
	if err != nil {
		return provider.Receipt{}, fmt.Errorf("rabbitmq: update instance %s in %s: %w", call.Instance, p.region, busy(err))
	}
	return updateReceipt(call.Instance, resp.GetHttpContentBytes())
}

// codeTopicMigrating is UpdateInstance's refusal while an earlier change still migrates
// topics (also seen with a lower-case first letter).
const codeTopicMigrating = "InstanceUpgradeOrDownGradeTopicMigrating"

// busy reclasses the refusal of a change sent while the previous one still migrates: the
// instance is busy, nothing happened, and the step waits as for a busy instance.
func busy(err error) error {
	pe, ok := provider.AsError(err)
	if !ok || !strings.EqualFold(pe.Code, codeTopicMigrating) {
		return err
	}
	out := *pe
	out.Class = provider.ClassBusy
	return &out
}

// updateReceipt reads UpdateInstance's answer, which the SDK's response type has no fields
// for: RequestId, Success, Code, Message and Data {instanceId, orderId} (Data may also come
// as a JSON string).
func updateReceipt(id string, body []byte) (provider.Receipt, error) {
	var b struct {
		RequestId string          `json:"RequestId"`
		Success   json.RawMessage `json:"Success"`
		Code      json.RawMessage `json:"Code"`
		Message   string          `json:"Message"`
		Data      json.RawMessage `json:"Data"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return provider.Receipt{}, &provider.Error{Class: provider.ClassUnknown, Kind: Kind, Action: ActionUpdate, Instance: id,
			Message: "the answer cannot be read, so whether the change was accepted is unknown", Err: err}
	}
	if pe := alisdk.CheckSuccess(body); pe != nil {
		pe.Kind, pe.Action, pe.Instance = Kind, ActionUpdate, id
		return provider.Receipt{}, busy(pe)
	}
	rec := provider.Receipt{RequestID: b.RequestId}
	data := b.Data
	var inner string
	if json.Unmarshal(data, &inner) == nil {
		data = json.RawMessage(inner)
	}
	var d struct {
		OrderID json.RawMessage `json:"orderId"`
	}
	if json.Unmarshal(data, &d) == nil && len(d.OrderID) > 0 && string(d.OrderID) != "null" {
		rec.OrderID = strings.Trim(string(d.OrderID), `"`)
	}
	return rec, nil
}

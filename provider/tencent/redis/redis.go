// Package redis is the tencent.redis provider: TencentDB for Redis (API 2018-04-12) through
// the real Tencent Cloud SDK. It owns what is special about changing a Redis spec: memory is
// per shard and a multiple of 1024 MB that never shrinks, one UpgradeInstance call changes
// exactly one of memory, shard count and replica count while sending the other two at their
// current values, and an upgrade is finished when DescribeInstances shows the new sizes with
// Status 2, or failed when its deal (DescribeInstanceDealDetail) says delivery failed.
//
// Polling: Observe reads only the watched instances, DescribeInstances with InstanceIds in
// batches of 1000 (the largest Limit): ceil(k/1000) calls for k instances, never more than
// the region's own pages.
//
// It must not retry on its own: every request goes through the Config's Doer.
package redis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	tcredis "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/redis/v20180412"
	"github.com/upgradeplan/upgradeplan/provider"
)

// Kind is the manifest kind this package implements.
const Kind = "tencent.redis"

// API actions and their documented caps (requests per second per account).
const (
	ActionDescribeInstances          = "DescribeInstances"
	ActionUpgradeInstance            = "UpgradeInstance"
	ActionDescribeInstanceDealDetail = "DescribeInstanceDealDetail"
)

// PageSize is DescribeInstances' largest Limit.
const PageSize = 1000

// Field names, as the manifest's `desired` names them.
const (
	FieldMemSizeMB = "memSizeMB"
	FieldShards    = "shards"
	FieldReplicas  = "replicas"
	// FieldRedisVersion is observed only, for people.
	FieldRedisVersion = "redisVersion"
)

// Instance statuses (InstanceSet.Status).
const (
	statusInWorkflow = 1
	statusRunning    = 2
)

// VisibilityGrace is how long an accepted upgrade may stay invisible in DescribeInstances (status
// and values unchanged) before the executor takes an untouched instance as a call that never
// took effect. The API documents no figure; this bounds the lag the clouds show in practice.
const VisibilityGrace = time.Minute

// Spec describes tencent.redis for the registry.
func Spec() provider.Spec {
	return provider.Spec{
		Kind:  Kind,
		Cloud: "tencent",
		Actions: []provider.ActionSpec{
			{Name: ActionDescribeInstances, QPS: 35},
			{Name: ActionUpgradeInstance, Mutating: true, QPS: 20},
			{Name: ActionDescribeInstanceDealDetail},
		},
		IdempotencyToken: false,
		VisibilityGrace:  VisibilityGrace,
		New:              func(cfg provider.Config) (provider.Provider, error) { return New(cfg) },
		Recheck:          Recheck,
		// Tencent documents no duration; a resize migrates data, which takes minutes.
		ShortestOperation: provider.DefaultShortestOperation,
	}
}

// Provider is tencent.redis in one region under one account.
type Provider struct {
	cfg    provider.Config
	doer   provider.Doer
	client *tcredis.Client
	// silence gives up on an endpoint that never answered (see provider.Silence).
	silence *provider.Silence

	mu sync.Mutex
	// deals remembers the deal of the last accepted UpgradeInstance per instance, so
	// Observe can tell a failed delivery from one that has not begun.
	deals map[string]deal
}

var _ provider.Provider = (*Provider)(nil)

// New opens the provider for cfg.Region and cfg.Account.
func New(cfg provider.Config) (*Provider, error) {
	client, silence, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	doer := cfg.Doer
	if doer == nil {
		doer = provider.Direct
	}
	return &Provider{cfg: cfg, doer: doer, client: client, silence: silence, deals: map[string]deal{}}, nil
}

// sizes are the three dimensions UpgradeInstance changes.
type sizes struct{ mem, shards, replicas int64 }

func (s sizes) values() provider.Values {
	return provider.Values{FieldMemSizeMB: s.mem, FieldShards: s.shards, FieldReplicas: s.replicas}
}

func (p *Provider) do(ctx context.Context, action, instance string, send func(context.Context) error) error {
	mutating := action == ActionUpgradeInstance
	req := provider.Request{Kind: Kind, Account: p.cfg.Account.Name, Region: p.cfg.Region, Action: action, Mutating: mutating, Instance: instance}
	return p.doer.Do(ctx, req, func(ctx context.Context) error {
		err := guard(action, instance, mutating, func() error { return send(ctx) })
		if ctx.Err() == nil && p.silence != nil {
			var sdk *tcerr.TencentCloudSDKError
			answered := err == nil || (errors.As(err, &sdk) && sdk.Code != "ClientError.NetworkError")
			if giveUp := p.silence.Observe(answered, err); giveUp != nil {
				return &provider.Error{Kind: Kind, Action: action, Instance: instance, Class: provider.ClassPermanent,
					Code: "ClientError.NetworkError", Message: giveUp.Error(), Err: err}
			}
		}
		if err == nil {
			return nil
		}
		var pe *provider.Error
		if errors.As(err, &pe) {
			return err
		}
		return classify(ctx, err, action, instance, mutating)
	})
}

// List reads every instance of the region matching sel, 1000 per DescribeInstances call,
// with the ids and tags sent as filters and checked again on the answer.
func (p *Provider) List(ctx context.Context, sel provider.Selection) ([]provider.Instance, error) {
	set, err := p.describe(ctx, sel.IDs, sel.Tags)
	if err != nil {
		return nil, fmt.Errorf("redis: list instances in %s: %w", p.cfg.Region, err)
	}
	out := make([]provider.Instance, 0, len(set))
	for _, inst := range set {
		if sel.Selects(inst.ID, inst.Tags) {
			out = append(out, inst)
		}
	}
	return out, nil
}

// describe pages through DescribeInstances and returns the instances sorted by id, each once.
// With ids, the ids are sent in batches of PageSize, each batch paged on its own.
func (p *Provider) describe(ctx context.Context, ids []string, tags map[string]string) ([]provider.Instance, error) {
	seen := map[string]provider.Instance{}
	batches := [][]string{nil}
	if len(ids) > 0 {
		uniq := append([]string(nil), ids...)
		sort.Strings(uniq)
		uniq = compact(uniq)
		batches = nil
		for len(uniq) > 0 {
			n := min(len(uniq), PageSize)
			batches = append(batches, uniq[:n])
			uniq = uniq[n:]
		}
	}
	tagKeys := make([]string, 0, len(tags))
	for k := range tags {
		tagKeys = append(tagKeys, k)
	}
	sort.Strings(tagKeys)
	for _, batch := range batches {
		err := provider.ReadPages(func(pg provider.Page) (provider.PageAnswer, error) {
			req := tcredis.NewDescribeInstancesRequest()
			req.Limit = ptr(uint64(PageSize))
			req.Offset = ptr(uint64(pg.Index) * PageSize)
			for _, id := range batch {
				req.InstanceIds = append(req.InstanceIds, ptr(id))
			}
			for _, k := range tagKeys {
				req.InstanceTags = append(req.InstanceTags, &tcredis.InstanceTagInfo{TagKey: ptr(k), TagValue: ptr(tags[k])})
			}
			var resp *describeAnswer
			err := p.do(ctx, ActionDescribeInstances, "", func(ctx context.Context) error {
				resp = &describeAnswer{BaseResponse: &tchttp.BaseResponse{}} // a retry decodes into a fresh answer
				lean := &describeAnswer{BaseResponse: resp.BaseResponse}
				sendCtx, raw := leanSend(ctx, decodeDescribe(lean))
				req.SetContext(sendCtx)
				if err := p.client.Send(req, resp); err != nil {
					return err
				}
				if raw.took {
					resp = lean
				}
				return resp.err()
			})
			if err != nil {
				return provider.PageAnswer{}, err
			}
			if resp == nil || resp.Response == nil {
				return provider.PageAnswer{}, &provider.Error{Kind: Kind, Action: ActionDescribeInstances, Class: provider.ClassRetryable, Message: "empty answer"}
			}
			page := resp.Response.InstanceSet
			for _, is := range page {
				if is == nil || is.InstanceId == nil {
					continue
				}
				inst := p.fromSet(is)
				seen[inst.ID] = inst
			}
			return provider.PageAnswer{Items: len(page), Size: PageSize, Total: deref(resp.Response.TotalCount)}, nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]provider.Instance, 0, len(seen))
	for _, inst := range seen {
		out = append(out, inst)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func compact(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func (p *Provider) fromSet(is *listedInstance) provider.Instance {
	status := deref(is.Status)
	inst := provider.Instance{
		ID:     *is.InstanceId,
		Region: deref(is.Region),
		Status: statusName(status),
		Phase:  provider.PhaseBusy,
		Values: sizes{deref(is.RedisShardSize), deref(is.RedisShardNum), deref(is.RedisReplicasNum)}.values(),
	}
	if inst.Region == "" {
		inst.Region = p.cfg.Region
	}
	if status == statusRunning {
		inst.Phase = provider.PhaseReady
	}
	if v := deref(is.CurrentRedisVersion); v != "" {
		inst.Values[FieldRedisVersion] = v
	}
	if pt := deref(is.ProductType); pt != "" {
		inst.Values[factProductType] = pt
	}
	if is.Type != nil {
		inst.Values[factType] = *is.Type
	}
	if n := renderNodes(is.NodeSet); n != "" {
		inst.Values[factNodes] = n
	}
	for _, t := range is.InstanceTags {
		if t == nil || t.TagKey == nil {
			continue
		}
		if inst.Tags == nil {
			inst.Tags = map[string]string{}
		}
		inst.Tags[*t.TagKey] = deref(t.TagValue)
	}
	return inst
}

func statusName(s int64) string {
	switch s {
	case 0:
		return "initializing"
	case statusInWorkflow:
		return "in a workflow"
	case statusRunning:
		return "running"
	case -2:
		return "isolated"
	case -3:
		return "pending deletion"
	}
	return "status " + strconv.FormatInt(s, 10)
}

// Plan turns desired memSizeMB/shards/replicas into UpgradeInstance calls, one per changed
// dimension, in the order memory, shards, replicas. Each call sends all three sizes: the
// changed one and the others as they will be when the calls before it have finished.
func (p *Provider) Plan(_ context.Context, inst provider.Instance, want provider.Desired) ([]provider.Change, error) {
	cur, err := observedSizes(inst)
	if err != nil {
		return nil, err
	}
	var errs []error
	fields := map[string]*int64{}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		switch k {
		case FieldMemSizeMB, FieldShards, FieldReplicas:
			n, ok := provider.Int(want[k])
			if !ok {
				errs = append(errs, &provider.RuleError{Field: k, Message: fmt.Sprintf("%v is not a whole number", show(want[k]))})
				continue
			}
			fields[k] = &n
		default:
			errs = append(errs, &provider.RuleError{Field: k, Message: "tencent.redis does not take this field; use memSizeMB, shards or replicas"})
		}
	}
	if len(want) == 0 {
		errs = append(errs, &provider.RuleError{Message: "tencent.redis needs at least one of memSizeMB, shards or replicas in desired"})
	}
	target := cur
	if m := fields[FieldMemSizeMB]; m != nil {
		switch {
		case *m <= 0:
			errs = append(errs, &provider.RuleError{Field: FieldMemSizeMB, Message: fmt.Sprintf("%d must be a positive number of MB per shard", *m)})
		case *m%1024 != 0:
			lo := *m / 1024 * 1024
			hint := fmt.Sprintf("use %d", lo+1024)
			if lo > 0 {
				hint = fmt.Sprintf("use %d or %d", lo, lo+1024)
			}
			errs = append(errs, &provider.RuleError{Field: FieldMemSizeMB, Message: fmt.Sprintf("%d is not a multiple of 1024 (memory is per shard, in steps of 1024 MB); %s", *m, hint)})
		case *m < cur.mem:
			errs = append(errs, &provider.RuleError{Field: FieldMemSizeMB, Message: fmt.Sprintf(
				"%d would shrink the instance's %d MB per shard, and Tencent Redis cannot reduce capacity (ReduceCapacityNotAllowed); set memSizeMB to %d or more", *m, cur.mem, cur.mem)})
		default:
			target.mem = *m
		}
	}
	if s := fields[FieldShards]; s != nil {
		if err := checkShards(inst, *s); err != nil {
			errs = append(errs, err)
		} else {
			target.shards = *s
		}
	}
	if r := fields[FieldReplicas]; r != nil {
		if err := checkReplicas(inst, *r); err != nil {
			errs = append(errs, err)
		} else {
			target.replicas = *r
		}
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	if len(errs) > 1 {
		return nil, errors.Join(errs...)
	}

	// One dimension per call, in a fixed order; each step starts from where the previous one ends.
	var steps []sizes
	at := cur
	if target.mem != at.mem {
		at.mem = target.mem
		steps = append(steps, at)
	}
	if target.shards != at.shards {
		at.shards = target.shards
		steps = append(steps, at)
	}
	if target.replicas != at.replicas {
		at.replicas = target.replicas
		steps = append(steps, at)
	}
	changes := make([]provider.Change, 0, len(steps))
	from := cur
	for i, to := range steps {
		c := provider.Change{
			Action: ActionUpgradeInstance,
			Params: map[string]any{
				"InstanceId":       inst.ID,
				"MemSize":          to.mem,
				"RedisShardNum":    to.shards,
				"RedisReplicasNum": to.replicas,
			},
			From: from.values(),
			To:   to.values(),
		}
		if len(steps) > 1 {
			c.Notes = append(c.Notes, fmt.Sprintf("change %d of %d on this instance: one dimension per UpgradeInstance call", i+1, len(steps)))
		}
		if to.shards != from.shards {
			c.Notes = append(c.Notes, "resharding migrates data between shards")
		}
		if set := nodeSet(inst, from.replicas, to.replicas); set != nil {
			c.Params["NodeSet"] = set
			c.Notes = append(c.Notes, "multi-AZ instance: NodeSet names the replicas added or removed")
		}
		changes = append(changes, c)
		from = to
	}
	return changes, nil
}

func observedSizes(inst provider.Instance) (sizes, error) {
	var s sizes
	for _, f := range []struct {
		name string
		dst  *int64
	}{{FieldMemSizeMB, &s.mem}, {FieldShards, &s.shards}, {FieldReplicas, &s.replicas}} {
		n, ok := provider.Int(inst.Values[f.name])
		if !ok {
			return sizes{}, fmt.Errorf("redis: %s: observed %s is missing or not a number (%v)", inst.ID, f.name, inst.Values[f.name])
		}
		*f.dst = n
	}
	return s, nil
}

// Apply sends one UpgradeInstance with the planned parameters and returns its DealId.
func (p *Provider) Apply(ctx context.Context, call provider.Call) (provider.Receipt, error) {
	perm := func(msg string) error {
		return &provider.Error{Kind: Kind, Action: call.Action, Instance: call.Instance, Class: provider.ClassPermanent, Message: msg}
	}
	if call.Action != ActionUpgradeInstance {
		return provider.Receipt{}, perm(fmt.Sprintf("tencent.redis cannot send %q", call.Action))
	}
	if call.DryRun {
		return provider.Receipt{}, perm("UpgradeInstance has no dry run")
	}
	if id, _ := call.Params["InstanceId"].(string); id != call.Instance {
		return provider.Receipt{}, perm(fmt.Sprintf("the planned InstanceId %q is not the step's instance", id))
	}
	var n [3]uint64
	for i, k := range []string{"MemSize", "RedisShardNum", "RedisReplicasNum"} {
		v, ok := provider.Int(call.Params[k])
		if !ok || v < 0 {
			return provider.Receipt{}, perm(fmt.Sprintf("the planned %s (%v) is not a whole number", k, call.Params[k]))
		}
		n[i] = uint64(v)
	}
	var nodes []*tcredis.RedisNodeInfo
	if raw, has := call.Params["NodeSet"]; has {
		var err error
		if nodes, err = sdkNodeSet(raw); err != nil {
			return provider.Receipt{}, perm("the planned " + err.Error())
		}
	}
	resp := &upgradeResponse{BaseResponse: &tchttp.BaseResponse{}}
	err := p.do(ctx, ActionUpgradeInstance, call.Instance, func(ctx context.Context) error {
		req := tcredis.NewUpgradeInstanceRequest()
		req.InstanceId = ptr(call.Instance)
		req.MemSize = ptr(n[0])
		req.RedisShardNum = ptr(n[1])
		req.RedisReplicasNum = ptr(n[2])
		req.NodeSet = nodes
		req.SetContext(ctx)
		return p.client.Send(req, resp)
	})
	if err != nil {
		return provider.Receipt{}, err
	}
	if resp.Response == nil {
		return provider.Receipt{}, &provider.Error{Kind: Kind, Action: call.Action, Instance: call.Instance, Class: provider.ClassUnknown, Message: "empty answer"}
	}
	rc := receipt(resp)
	if rc.OrderID != "" {
		p.mu.Lock()
		p.deals[call.Instance] = dealOf(rc.OrderID, rc.OrderName)
		p.mu.Unlock()
	}
	return rc, nil
}

// Observe reads every watched instance with DescribeInstances (one call per 1000 ids) and,
// for started watches that look idle at their old sizes, asks DescribeInstanceDealDetail
// about their deals: DealIds ten per call, a deal known only by its DealName one per call.
func (p *Provider) Observe(ctx context.Context, watches []provider.Watch) ([]provider.Progress, error) {
	if len(watches) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(watches))
	for _, w := range watches {
		ids = append(ids, w.Instance)
	}
	list, err := p.describe(ctx, ids, nil)
	if err != nil {
		return nil, fmt.Errorf("redis: observe %d instances in %s: %w", len(watches), p.cfg.Region, err)
	}
	byID := provider.IndexByID(list)

	out := make([]provider.Progress, len(watches))
	askDeal := map[deal][]int{} // deal → indexes of watches waiting on it
	for i, w := range watches {
		inst, ok := byID[w.Instance]
		if !ok {
			out[i] = provider.Progress{Instance: w.Instance, State: provider.StateMissing,
				Message: fmt.Sprintf("%s is not in DescribeInstances for %s", w.Instance, p.cfg.Region)}
			continue
		}
		pr := provider.Progress{Instance: w.Instance, Status: inst.Status, Observed: inst.Values}
		toField, atTo := provider.Matches(inst.Values, w.To)
		_, atFrom := provider.Matches(inst.Values, w.From)
		idle := inst.Phase == provider.PhaseReady
		switch {
		case !w.Started:
			var fromField string
			pr.State, fromField = provider.JudgeNotStarted(w, inst.Values, inst.Phase)
			if pr.State == provider.StateDrifted {
				pr.Message = fmt.Sprintf("%s: %s is %v, the plan expected %v", w.Instance, fromField, show(inst.Values[fromField]), show(w.From[fromField]))
			}
		case !idle:
			pr.State = provider.StateInProgress
		case atTo:
			pr.State = provider.StateDone
		case atFrom:
			// Running at the old sizes: either the change has not begun or its delivery failed.
			pr.State = provider.StateInProgress
			if deal := p.dealFor(w); deal.key != "" {
				askDeal[deal] = append(askDeal[deal], i)
			}
		default:
			pr.State = provider.StateFailed
			pr.Message = fmt.Sprintf("%s is running with %s %v, the plan expected %v", w.Instance, toField, show(inst.Values[toField]), show(w.To[toField]))
		}
		out[i] = pr
	}
	if len(askDeal) == 0 {
		return out, nil
	}
	details, err := p.dealDetails(ctx, askDeal)
	if err != nil {
		return nil, fmt.Errorf("redis: observe deals in %s: %w", p.cfg.Region, err)
	}
	for deal, idx := range askDeal {
		d, ok := details[deal.key]
		if !ok {
			continue
		}
		for _, i := range idx {
			// Delivered but at the old sizes: the list has not caught up yet. Unpaid,
			// delivering or paying: still on the way.
			if dealEnded(deref(d.Status)) {
				out[i].State = provider.StateFailed
				out[i].Message = dealMessage(out[i].Instance, deal.key, d)
			}
		}
	}
	return out, nil
}

// dealFor returns the watch's deal: the one the executor recorded, else the last one this
// provider received for the instance.
func (p *Provider) dealFor(w provider.Watch) deal {
	if w.OrderID != "" {
		return dealOf(w.OrderID, w.OrderName)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deals[w.Instance]
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	if v == nil {
		return "missing"
	}
	return fmt.Sprint(v)
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

package redis

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	tcredis "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/redis/v20180412"

	"github.com/upgradeplan/upgradeplan/provider"
)

// This file holds the sizes an instance's architecture allows (CreateInstances'
// RedisShardNum and RedisReplicasNum in the current API): a cluster has one of
// ClusterShards shards, the standard architecture 1; replicas are 1-5, and only 1 for Redis
// 2.8 and CKV. It also reads the instance's nodes, for UpgradeInstance's NodeSet: a
// multi-AZ instance (nodes in more than one zone) must name the replicas a replica change
// adds (their zones) or removes (their NodeIds).

// ClusterShards are the shard counts a cluster can have.
var ClusterShards = []int64{1, 3, 5, 8, 12, 16, 24, 32, 40, 48, 64, 80, 96, 128}

// MaxReplicas is the most replicas an instance can have.
const MaxReplicas = 5

// Observed facts besides the sizes.
const (
	factProductType = "productType"  // "cluster" or "standalone" (InstanceSet.ProductType)
	factType        = "instanceType" // InstanceSet.Type: 2 Redis 2.8 standard, 3/4 CKV, 5 Redis 2.8 standalone, ...
	factNodes       = "nodes"        // "type:id:zone,...", primary first (InstanceSet.NodeSet)
)

// singleReplica reports whether the instance type allows only 1 replica (Redis 2.8, CKV).
func singleReplica(typ int64) bool { return typ >= 2 && typ <= 5 }

// checkShards applies the shard rule of the instance's architecture.
func checkShards(inst provider.Instance, shards int64) error {
	if pt, _ := inst.Values[factProductType].(string); pt == "standalone" {
		if shards != 1 {
			return &provider.RuleError{Field: FieldShards, Message: fmt.Sprintf(
				"%d: %s has the standard architecture, which has exactly 1 shard; a cluster instance is needed for more", shards, inst.ID)}
		}
		return nil
	}
	if !slices.Contains(ClusterShards, shards) {
		lo, hi := neighbours(shards)
		return &provider.RuleError{Field: FieldShards, Message: fmt.Sprintf(
			"%d is not a shard count a cluster can have (%s); use %s", shards, joinInts(ClusterShards), hint(lo, hi))}
	}
	return nil
}

// checkReplicas applies the replica rule of the instance's type.
func checkReplicas(inst provider.Instance, replicas int64) error {
	typ, _ := provider.Int(inst.Values[factType])
	switch {
	case singleReplica(typ) && replicas != 1:
		return &provider.RuleError{Field: FieldReplicas, Message: fmt.Sprintf(
			"%d: %s is Redis 2.8 or CKV (type %d), which has exactly 1 replica", replicas, inst.ID, typ)}
	case replicas < 1 || replicas > MaxReplicas:
		return &provider.RuleError{Field: FieldReplicas, Message: fmt.Sprintf("%d is not between 1 and %d", replicas, MaxReplicas)}
	}
	return nil
}

func neighbours(n int64) (lo, hi int64) {
	for _, s := range ClusterShards {
		if s < n {
			lo = s
		}
		if s > n && hi == 0 {
			hi = s
		}
	}
	return lo, hi
}

func hint(lo, hi int64) string {
	switch {
	case lo > 0 && hi > 0:
		return fmt.Sprintf("%d or %d", lo, hi)
	case hi > 0:
		return strconv.FormatInt(hi, 10)
	}
	return strconv.FormatInt(lo, 10)
}

func joinInts(ns []int64) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(s, ", ")
}

// node is one entry of an instance's NodeSet.
type node struct{ typ, id, zone int64 }

func renderNodes(set []*tcredis.RedisNodeInfo) string {
	parts := make([]string, 0, len(set))
	for _, n := range set {
		if n == nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%d:%d:%d", deref(n.NodeType), deref(n.NodeId), deref(n.ZoneId)))
	}
	return strings.Join(parts, ",")
}

func parseNodes(v any) []node {
	s, _ := v.(string)
	var out []node
	for _, part := range strings.Split(s, ",") {
		f := strings.Split(part, ":")
		if len(f) != 3 {
			continue
		}
		var n node
		var err error
		if n.typ, err = strconv.ParseInt(f[0], 10, 64); err != nil {
			continue
		}
		if n.id, err = strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		if n.zone, err = strconv.ParseInt(f[2], 10, 64); err != nil {
			continue
		}
		out = append(out, n)
	}
	return out
}

// nodeSet is the NodeSet of a replica change from the instance's replica count to
// replicas, or nil where none is needed (a single-AZ instance, or no replica change): the
// zones of added replicas continue the instance's own zone rotation; removed replicas are
// the ones with the highest NodeIds.
func nodeSet(inst provider.Instance, from, replicas int64) []any {
	nodes := parseNodes(inst.Values[factNodes])
	zones := map[int64]bool{}
	var order []int64
	var reps []node
	for _, n := range nodes {
		if !zones[n.zone] {
			zones[n.zone] = true
			order = append(order, n.zone)
		}
		if n.typ == 1 {
			reps = append(reps, n)
		}
	}
	if replicas == from || len(order) < 2 {
		return nil
	}
	var out []any
	if replicas > from {
		for i := from + 1; i <= replicas; i++ {
			out = append(out, map[string]any{"NodeType": int64(1), "ZoneId": order[int(i)%len(order)]})
		}
		return out
	}
	slices.SortFunc(reps, func(a, b node) int { return int(b.id - a.id) })
	for _, n := range reps[:min(int(from-replicas), len(reps))] {
		out = append(out, map[string]any{"NodeType": int64(1), "NodeId": n.id})
	}
	return out
}

// sdkNodeSet reads a planned NodeSet back (from a plan file: maps of float64 or json.Number).
func sdkNodeSet(v any) ([]*tcredis.RedisNodeInfo, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("NodeSet is a %T, not a list", v)
	}
	var out []*tcredis.RedisNodeInfo
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("NodeSet[%d] is a %T, not an object", i, e)
		}
		n := &tcredis.RedisNodeInfo{}
		if t, ok := provider.Int(m["NodeType"]); ok {
			n.NodeType = ptr(t)
		}
		if id, ok := provider.Int(m["NodeId"]); ok {
			n.NodeId = ptr(id)
		}
		if z, ok := provider.Int(m["ZoneId"]); ok && z >= 0 {
			n.ZoneId = ptr(uint64(z))
		}
		out = append(out, n)
	}
	return out, nil
}

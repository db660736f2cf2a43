package redis

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// This file holds what an instance's architecture allows, as the current API documents it
// (CreateInstances' RedisShardNum and RedisReplicasNum): a cluster has one of the shard
// counts in ClusterShards, a standard instance 1; replicas are 1-5, and only 1 for Redis
// 2.8 and CKV. It also holds the instance's nodes (InstanceSet.NodeSet) and the NodeSet
// rule of UpgradeInstance: a multi-AZ instance (nodes in more than one zone) must pass
// NodeSet when its replica count changes, naming the zones of the replicas it adds or the
// NodeIds of the replicas it removes.

// ClusterShards are the shard counts a cluster can have.
var ClusterShards = []int64{1, 3, 5, 8, 12, 16, 24, 32, 40, 48, 64, 80, 96, 128}

// Product types (InstanceSet.ProductType).
const (
	ProductStandalone = "standalone"
	ProductCluster    = "cluster"
)

// typeOf is InstanceSet.Type: the state's type, else the one of its version and
// architecture (2 Redis 2.8 standard; 6/7 4.0, 8/9 5.0, 15/16 6.2, 17/18 7.0 standard/cluster).
func (inst *Instance) typeOf() int64 {
	if inst.Type != 0 {
		return inst.Type
	}
	cluster := inst.ProductType == ProductCluster
	pick := func(std, clu int64) int64 {
		if cluster {
			return clu
		}
		return std
	}
	switch inst.Version {
	case "2.8":
		return 2
	case "4.0":
		return pick(6, 7)
	case "5.0":
		return pick(8, 9)
	case "7.0":
		return pick(17, 18)
	}
	return pick(15, 16)
}

// singleReplica reports whether the instance type allows only 1 replica: Redis 2.8 (types
// 2 and 5) and CKV (3 and 4).
func (inst *Instance) singleReplica() bool {
	switch inst.typeOf() {
	case 2, 3, 4, 5:
		return true
	}
	return false
}

// checkSpec refuses shard and replica counts the architecture does not sell.
func (inst *Instance) checkSpec(shards, replicas int64) error {
	if inst.ProductType == ProductCluster {
		if !slices.Contains(ClusterShards, shards) {
			return sim.Errorf(http.StatusOK, "InvalidParameterValue.SpecNotExist",
				"A cluster instance has %s shards, not %d.", joinInts(ClusterShards), shards)
		}
	} else if shards != 1 {
		return sim.Errorf(http.StatusOK, "InvalidParameterValue.SpecNotExist",
			"A standard-architecture instance has 1 shard, not %d.", shards)
	}
	switch {
	case inst.singleReplica() && replicas != 1:
		return sim.Errorf(http.StatusOK, "InvalidParameterValue.SpecNotExist",
			"Instance type %d (Redis 2.8 or CKV) has exactly 1 replica, not %d.", inst.typeOf(), replicas)
	case replicas < 1 || replicas > maxReplicas:
		return sim.Errorf(http.StatusOK, "InvalidParameterValue.SpecNotExist",
			"An instance has 1 to %d replicas, not %d.", maxReplicas, replicas)
	}
	return nil
}

func joinInts(ns []int64) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(s, ", ")
}

// redisNodeInfo is InstanceSet.NodeSet[] and UpgradeInstance's NodeSet[].
type redisNodeInfo struct {
	NodeType *int64  `json:"NodeType,omitempty"`
	NodeId   *int64  `json:"NodeId,omitempty"`
	ZoneId   *uint64 `json:"ZoneId,omitempty"`
	ZoneName *string `json:"ZoneName,omitempty"`
}

// zoneID is a zone's numeric id: 100001 and up, in the order the region's zones are named.
func zoneID(zone string) uint64 {
	i := strings.LastIndexByte(zone, '-')
	n, err := strconv.ParseUint(zone[i+1:], 10, 64)
	if i < 0 || err != nil {
		return 100000
	}
	return 100000 + n
}

// zones are the instance's zones: the primary's first; replicas take them in turn.
func (inst *Instance) zones() []string {
	if len(inst.Zones) > 0 {
		return inst.Zones
	}
	return []string{inst.Region + "-1"}
}

func (inst *Instance) multiAZ() bool {
	zs := inst.zones()
	for _, z := range zs[1:] {
		if z != zs[0] {
			return true
		}
	}
	return false
}

// nodes renders NodeSet: the primary (NodeType 0, NodeId 0) and each replica (NodeType
// 1, NodeId 1..n), the replicas in the zones in turn.
func (inst *Instance) nodes() []redisNodeInfo {
	zs := inst.zones()
	out := []redisNodeInfo{node(0, 0, zs[0])}
	for i := int64(1); i <= inst.Replicas; i++ {
		out = append(out, node(1, i, zs[int(i)%len(zs)]))
	}
	return out
}

func node(typ, id int64, zone string) redisNodeInfo {
	return redisNodeInfo{NodeType: ptr(typ), NodeId: ptr(id), ZoneId: ptr(zoneID(zone)), ZoneName: ptr(zone)}
}

// checkNodeSet applies the NodeSet rule to a replica change from inst.Replicas to replicas.
func (inst *Instance) checkNodeSet(replicas int64, set []redisNodeInfo) error {
	if replicas == inst.Replicas || !inst.multiAZ() {
		return nil
	}
	refuse := func(format string, args ...any) error {
		return sim.Errorf(http.StatusOK, "InvalidParameter.InvalidParameter", "%s is a multi-AZ instance: "+format, append([]any{inst.ID}, args...)...)
	}
	if len(set) == 0 {
		return refuse("NodeSet is required when the replica count changes")
	}
	delta := replicas - inst.Replicas
	if delta < 0 {
		delta = -delta
	}
	if int64(len(set)) != delta {
		return refuse("NodeSet names %d nodes; the change adds or removes %d replicas", len(set), delta)
	}
	known := map[uint64]bool{}
	for _, z := range inst.zones() {
		known[zoneID(z)] = true
	}
	for i, n := range set {
		if n.NodeType == nil || *n.NodeType != 1 {
			return refuse("NodeSet[%d].NodeType must be 1 (a replica)", i)
		}
		if replicas > inst.Replicas {
			if n.ZoneId == nil || !known[*n.ZoneId] {
				return refuse("NodeSet[%d].ZoneId must be one of the instance's zones", i)
			}
			continue
		}
		if n.NodeId == nil || *n.NodeId < 1 || *n.NodeId > inst.Replicas {
			return refuse("NodeSet[%d].NodeId must name one of the instance's replicas (1-%d) to remove", i, inst.Replicas)
		}
	}
	return nil
}

// dealName is the order's long name, the DealName UpgradeInstance answers beside DealId.
func dealName(id string) string { return fmt.Sprintf("20260314%08s", id) }

package redis

import (
	"context"
	"fmt"

	"github.com/upgradeplan/upgradeplan/provider"
)

// Recheck re-plans a recorded UpgradeInstance from its from (the sizes before) and to (the
// sizes after) with Plan's own rules: one dimension per call, memory never shrinking, every
// size sent. Plan reads nothing from the cloud, so an unopened provider does it.
func Recheck(region, instance string, c provider.Change) error {
	p := &Provider{cfg: provider.Config{Region: region}}
	want := provider.Desired{}
	for _, k := range []string{FieldMemSizeMB, FieldShards, FieldReplicas} {
		if v, ok := c.To[k]; ok {
			want[k] = v
		}
	}
	changes, err := p.Plan(context.Background(), provider.Instance{ID: instance, Region: region, Values: c.From}, want)
	if err != nil {
		return err
	}
	if len(changes) != 1 {
		return fmt.Errorf("from %v to %v is %d UpgradeInstance calls, not one: a call changes one of memory, shards and replicas", c.From, c.To, len(changes))
	}
	// NodeSet comes from the instance's nodes, which a re-check does not read: it must
	// name one replica per replica added or removed, and is otherwise left to the API.
	if raw, has := c.Params["NodeSet"]; has {
		nodes, err := sdkNodeSet(raw)
		if err != nil {
			return err
		}
		from, _ := provider.Int(c.From[FieldReplicas])
		to, _ := provider.Int(c.To[FieldReplicas])
		if delta := max(to-from, from-to); delta == 0 || int64(len(nodes)) != delta {
			return fmt.Errorf("NodeSet names %d nodes; the change adds or removes %d replicas", len(nodes), delta)
		}
		for i, n := range nodes {
			if deref(n.NodeType) != 1 {
				return fmt.Errorf("NodeSet[%d].NodeType is %d, not 1 (a replica)", i, deref(n.NodeType))
			}
		}
		changes[0].Params["NodeSet"] = raw
	}
	return provider.SameChange(changes[0], c)
}

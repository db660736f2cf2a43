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
	return provider.SameChange(changes[0], c)
}

package kafka

import (
	"context"
	"fmt"

	"github.com/upgradeplan/upgradeplan/provider"
)

// Recheck re-plans a recorded change from its from and to with Plan's own transition table
// (Plan reads nothing from the cloud, so an unopened provider of the region does it).
func Recheck(region, instance string, c provider.Change) error {
	want := provider.Desired{"version": c.To["version"]}
	if isMinorStep(c.To) {
		want["latestMinor"] = true
	}
	p := &Provider{region: region}
	changes, err := p.Plan(context.Background(), provider.Instance{ID: instance, Region: region, Values: c.From}, want)
	if err != nil {
		return err
	}
	if len(changes) != 1 {
		return fmt.Errorf("from %v to %v is not one %s call", c.From["version"], c.To["version"], ActionUpgrade)
	}
	return provider.SameChange(changes[0], c)
}

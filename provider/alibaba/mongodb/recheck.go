package mongodb

import (
	"fmt"

	"github.com/upgradeplan/upgradeplan/provider"
)

// upgradeChange is the one UpgradeDBInstanceKernelVersion Plan builds: the call names the
// instance and region only (the API always moves to the newest kernel of the engine).
func upgradeChange(region, id, current, target string) provider.Change {
	return provider.Change{
		Action: ActionUpgrade,
		Params: map[string]any{"DBInstanceId": id, "RegionId": region},
		From:   provider.Values{"kernelVersion": current},
		To:     provider.Values{"kernelVersion": target},
		Notes:  []string{NoteRestart, NoteRunning},
	}
}

// Recheck rebuilds a recorded kernel upgrade with Plan's builder. Which kernel is the newest
// needs DescribeKernelReleaseNotes, which a re-check does not call: the executor checks the
// observed kernel against to when the step completes.
func Recheck(region, instance string, c provider.Change) error {
	current, _ := c.From["kernelVersion"].(string)
	target, _ := c.To["kernelVersion"].(string)
	if current == "" || target == "" {
		return fmt.Errorf("from and to must each name a kernelVersion")
	}
	if current == target {
		return fmt.Errorf("from and to are the same kernel %s; the change does nothing", current)
	}
	return provider.SameChange(upgradeChange(region, instance, current, target), c)
}

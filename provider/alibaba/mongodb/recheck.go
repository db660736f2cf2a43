package mongodb

import (
	"fmt"

	"github.com/upgradeplan/upgradeplan/provider"
)

// upgradeChange is the one UpgradeDBInstanceKernelVersion Plan builds: the call names the
// instance, region and SwitchMode (the API always moves to the newest kernel of the
// engine): 0, at once, unless inWindow asks for the maintenance window (1), which To
// records so Observe waits for the window instead of applying the start grace.
func upgradeChange(region, id, current, target string, inWindow bool) provider.Change {
	ch := provider.Change{
		Action: ActionUpgrade,
		Params: map[string]any{"DBInstanceId": id, "RegionId": region, "SwitchMode": switchNow},
		From:   provider.Values{FieldKernel: current},
		To:     provider.Values{FieldKernel: target},
		Notes:  []string{NoteRestart, NoteRunning},
	}
	if inWindow {
		ch.Params["SwitchMode"] = switchWindow
		ch.To[FieldMaintenanceWindow] = true
		ch.Notes = append(ch.Notes, NoteMaintenanceWindow)
	}
	return ch
}

// inMaintenanceWindow reports whether a change's to names the maintenance window
// (SwitchMode=1), as upgradeChange records it.
func inMaintenanceWindow(to provider.Values) bool {
	b, _ := to[FieldMaintenanceWindow].(bool)
	return b
}

// Recheck rebuilds a recorded kernel upgrade with Plan's builder. Which kernel is the newest
// needs DescribeKernelReleaseNotes, which a re-check does not call: the executor checks the
// observed kernel against to when the step completes.
func Recheck(region, instance string, c provider.Change) error {
	current, _ := c.From[FieldKernel].(string)
	target, _ := c.To[FieldKernel].(string)
	if current == "" || target == "" {
		return fmt.Errorf("from and to must each name a kernelVersion")
	}
	if sameKernel(current, target) {
		return fmt.Errorf("from and to are the same kernel %s; the change does nothing", current)
	}
	return provider.SameChange(upgradeChange(region, instance, current, target, inMaintenanceWindow(c.To)), c)
}

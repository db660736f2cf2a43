package executor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
)

// windowMongo plans one MongoDB kernel upgrade for the maintenance window (SwitchMode=1),
// the window opening in `in` simulated time, and has the simulator drop the answer of the
// call it accepted.
func windowMongo(t *testing.T, in time.Duration, stepTimeout string) (*executor.Record, int) {
	t.Helper()
	start := time.Now().UTC().Add(in).Add(time.Minute).Truncate(time.Minute)
	window := start.Format("15:04Z") + "-" + start.Add(time.Hour).Format("15:04Z")
	state := accounts + `mongodb:
  - {id: dds-w-1, region: cn-hangzhou, account: demo-ali, status: Running, type: replicate, engineVersion: "4.4",
     kernelVersion: mongodb_20231123_4.4.25, replicationFactor: 3, tags: {env: w}, maintenanceWindow: "` + window + `"}
`
	faults := "rules:\n  - {product: dds, action: UpgradeDBInstanceKernelVersion, instance: dds-w-1, times: 1, fault: drop}\n"
	s := startSim(t, state, faults)
	p, path := planFleet(t, `apiVersion: upgradeplan/v1
kind: Fleet
metadata: {name: w, owner: platform}
settings: {pollInterval: 100ms, stepTimeout: `+stepTimeout+`}
targets:
  - name: mongo
    kind: alibaba.mongodb
    region: cn-hangzhou
    select: {tags: {env: w}}
    desired: {kernelVersion: latest, maintenanceWindow: true}
`)
	rec := apply(t, context.Background(), p, path, t.TempDir(), false)
	if len(rec.Steps) != 1 {
		t.Fatalf("want one step, the record has %d", len(rec.Steps))
	}
	return rec, len(s.CallsTo("UpgradeDBInstanceKernelVersion"))
}

// An upgrade planned for the maintenance window shows nothing until the window opens,
// however long after the call that is. A call of it whose answer was lost is never sent
// again: the instance untouched past the visibility grace (a second of wall clock here)
// proves nothing. Before, the step sent the call a second time after the grace and the
// instance was upgraded twice.
func TestALostAnswerOfAnUpgradeForTheMaintenanceWindowIsNeverResent(t *testing.T) {
	t.Run("the window opens: succeeded, one call", func(t *testing.T) {
		rec, calls := windowMongo(t, 20*time.Minute, "1m") // 2–3 s of wall clock at timeScale
		st := rec.Steps[0]
		if calls != 1 {
			t.Errorf("UpgradeDBInstanceKernelVersion was sent %d times for one change", calls)
		}
		if st.Status != executor.StatusSucceeded || st.Attempts != 1 || !strings.Contains(st.Reason, "answer was lost") {
			t.Errorf("step %s, %d attempts, reason %q; want succeeded after one attempt, its answer lost", st.Status, st.Attempts, st.Reason)
		}
	})
	t.Run("the window is past stepTimeout: failed in doubt, one call", func(t *testing.T) {
		rec, calls := windowMongo(t, 3*time.Hour, "3s") // the window opens 18 s of wall clock on
		st := rec.Steps[0]
		if calls != 1 {
			t.Errorf("UpgradeDBInstanceKernelVersion was sent %d times for one change", calls)
		}
		if st.Status != executor.StatusFailed || st.Error == nil || st.Error.Code != "InDoubt" || !strings.Contains(st.Error.Message, "not sent again") {
			t.Errorf("step %s, error %+v; want failed, in doubt, not sent again", st.Status, st.Error)
		}
	})
}

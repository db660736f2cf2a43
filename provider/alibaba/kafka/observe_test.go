package kafka

import (
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// The current GetInstanceList documents three failure codes (101 deployment failed, 102
// upgrade failed, 103 migration failed) and a released instance (6); each ends a step,
// before its call and after it, naming the code, instead of waiting for it to run until
// stepTimeout. An instance already at the target that is not running yet is not done.
func TestObserveJudgesTheStatusBeforeTheVersion(t *testing.T) {
	since := time.Now().Add(-5 * time.Minute)
	watch := func(started bool) provider.Watch {
		return provider.Watch{Instance: "alikafka-1", From: provider.Values{"version": Version0102},
			To: provider.Values{"version": Version220}, Started: started, Since: since}
	}
	cases := []struct {
		name    string
		started bool
		version string
		view    int
		want    provider.State
		naming  string // the message names it
	}{
		{"deploy failed, not started", false, Version0102, 101, provider.StateFailed, "deployment failed (ViewInstanceStatusCode 101)"},
		{"migration failed, not started", false, Version0102, 103, provider.StateFailed, "migration failed (ViewInstanceStatusCode 103)"},
		{"released, not started", false, Version0102, 6, provider.StateFailed, "released (ViewInstanceStatusCode 6)"},
		{"deploy failed, started", true, Version0102, 101, provider.StateFailed, "ViewInstanceStatusCode 101"},
		{"migration failed, started", true, Version0102, 103, provider.StateFailed, "ViewInstanceStatusCode 103"},
		{"upgrade failed at the target, not started", false, Version220, viewUpgradeFailed, provider.StateFailed, "upgrade failed (ViewInstanceStatusCode 102) at 2.2.0"},
		{"upgrading at the target, not started", false, Version220, viewUpgrading, provider.StateWaiting, "already shows 2.2.0 but is upgrading"},
		{"running at the target, not started", false, Version220, viewRunning, provider.StateDone, ""},
		{"stopped, not started", false, Version0102, 3, provider.StateWaiting, "ViewInstanceStatusCode 3"},
	}
	for _, c := range cases {
		got := progress(watch(c.started), observed{id: "alikafka-1", version: c.version, view: c.view}, time.Now())
		if got.State != c.want || !strings.Contains(got.Message, c.naming) {
			t.Errorf("%s: %s (%q); want %s naming %q", c.name, got.State, got.Message, c.want, c.naming)
		}
	}
}

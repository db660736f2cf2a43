package computenest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// Watching 3 of 500 instances is one ListServiceInstances call (a ServiceInstanceId filter
// takes 10 values), not the region's 5 pages; watching all 500 once the region's size is
// known is its 5 pages, not 50 filtered calls; both judge an instance alike.
func TestObservingByIDOrRegionTakesTheFewerCalls(t *testing.T) {
	var insts strings.Builder
	for i := range 500 {
		insts.WriteString(serviceInstance(fmt.Sprintf("si-%03d", i), "Deployed", "{env: test}"))
	}
	s, p := start(t, insts.String(), "", nil)
	ctx := context.Background()
	from, to := provider.Values{valueVersion: "2"}, provider.Values{valueVersion: "3"}
	var all []provider.Watch
	for i := range 500 {
		all = append(all, provider.Watch{Instance: fmt.Sprintf("si-%03d", i), From: from, To: to})
	}
	three := []provider.Watch{all[7], all[123], all[400], {Instance: "si-gone", From: from, To: to}}
	got, err := p.Observe(ctx, three)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Count(actionList); n != 1 {
		t.Errorf("watching 3 of 500 (region size unknown): %d ListServiceInstances, want 1", n)
	}
	if _, err := p.List(ctx, provider.Selection{}); err != nil { // as a plan does: records the size
		t.Fatal(err)
	}
	before := s.Count(actionList)
	region, err := p.Observe(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Count(actionList) - before; n != 5 {
		t.Errorf("watching all 500: %d ListServiceInstances, want the region's 5 pages (not 50 filtered calls)", n)
	}
	before = s.Count(actionList)
	again, err := p.Observe(ctx, three)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Count(actionList) - before; n != 1 {
		t.Errorf("watching 3 of 500 (region size known): %d ListServiceInstances, want 1", n)
	}
	for i, pr := range got {
		if i < 3 && (fmt.Sprint(pr) != fmt.Sprint(region[[]int{7, 123, 400}[i]]) || pr.State != provider.StatePending) {
			t.Errorf("%s by id %+v, region %+v; want pending in both", pr.Instance, pr, region[[]int{7, 123, 400}[i]])
		}
		if fmt.Sprint(pr) != fmt.Sprint(again[i]) {
			t.Errorf("%s: %+v then %+v", pr.Instance, pr, again[i])
		}
	}
	if got[3].State != provider.StateMissing {
		t.Errorf("si-gone: %s, want missing", got[3].State)
	}
}

// ListServiceInstances has no status for a failed upgrade: one that rolled back, or a call
// that never took effect, shows the instance Deployed at its old version. Past the start
// grace after the accepted call that is a failed step, naming what was seen; within it,
// or with no call time known, the upgrade may still be on its way.
func TestAnUpgradeStillDeployedAtItsOldVersionAfterTheStartGraceFailed(t *testing.T) {
	_, p := start(t, serviceInstance("si-1", "Deployed", "{}"), "", nil)
	from, to := provider.Values{"serviceVersion": "2"}, provider.Values{"serviceVersion": "3"}
	now := time.Now()
	got, err := p.Observe(context.Background(), []provider.Watch{
		{Instance: "si-1", From: from, To: to, Started: true, Since: now.Add(-StartGrace - time.Second)},
		{Instance: "si-1", From: from, To: to, Started: true, Since: now.Add(-StartGrace / 2)},
		{Instance: "si-1", From: from, To: to, Started: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].State != provider.StateFailed || !strings.Contains(got[0].Message, "never started or rolled back") || !strings.Contains(got[0].Message, "start grace") {
		t.Errorf("past the start grace: %s %q; want failed, saying what was seen", got[0].State, got[0].Message)
	}
	for i := 1; i < 3; i++ {
		if got[i].State != provider.StateInProgress {
			t.Errorf("watch %d: %s %q; want in progress", i, got[i].State, got[i].Message)
		}
	}
}

// Someone else upgrades the instance to version 4 while our accepted 2 → 3 is followed:
// Deployed at neither version is no visibility lag (that only ever shows the old state),
// so the step fails at once, inside the start grace, naming the version seen and the
// plan's, instead of staying in progress until the step timeout.
func TestAStartedUpgradeFoundDeployedAtAThirdVersionFailsAtOnce(t *testing.T) {
	_, p := start(t, serviceInstance("si-1", "Deployed", "{}"), "", map[string]string{"PW": "x"})
	ctx := context.Background()
	other := map[string]any{"ServiceVersion": "4", "Parameters": map[string]any{
		"EcsInstanceType": "ecs.g6.large", "AdminUser": "root", "InstancePassword": provider.SecretRef{FromEnv: "PW"}}}
	if _, err := p.Apply(ctx, provider.Call{Instance: "si-1", Action: ActionUpgrade, ClientToken: "someone-else", Params: other}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, provider.Watch{Instance: "si-1", From: provider.Values{valueVersion: "2"}, To: provider.Values{valueVersion: "4"}, Started: true}, provider.StateDone)

	from, to := provider.Values{valueVersion: "2"}, provider.Values{valueVersion: "3"}
	got, err := p.Observe(ctx, []provider.Watch{
		{Instance: "si-1", From: from, To: to, Started: true, Since: time.Now().Add(-10 * time.Second)},
		{Instance: "si-1", From: from, To: to, Started: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range got {
		if g.State != provider.StateFailed || !strings.Contains(g.Message, "serviceVersion is 4") || !strings.Contains(g.Message, "2 → 3") {
			t.Errorf("watch %d: %s %q; want failed, naming version 4 and the plan's 2 → 3", i, g.State, g.Message)
		}
	}
}

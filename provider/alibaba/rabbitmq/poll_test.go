package rabbitmq

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
)

// Watching 3 of 500 instances costs 3 GetInstance calls (ListInstances has no id filter;
// GetInstance answers one id with every field the list has), not the region's 5 pages; the
// 3 are judged exactly as the region read judges them.
func TestObservingThreeOfFiveHundredReadsThreeInstances(t *testing.T) {
	base := "instanceType=enterprise, maxPrivateTps=3000, queueCapacity=1000, storageSize=0"
	var insts strings.Builder
	for i := range 500 {
		extra := base
		switch i {
		case 7:
			extra = strings.Replace(base, "3000", "5000", 1) // already at the target
		case 123:
			extra += ", status=DEPLOYING"
		}
		insts.WriteString(instanceYAML(fmt.Sprintf("amqp-%03d", i), extra))
	}
	s, p := start(t, insts.String(), "")
	ctx := context.Background()
	from, to := provider.Values{"maxPrivateTps": int64(3000)}, provider.Values{"maxPrivateTps": int64(5000)}
	now := time.Now()
	var all []provider.Watch
	for i := range 500 {
		all = append(all, provider.Watch{Instance: fmt.Sprintf("amqp-%03d", i), From: from, To: to, Started: i%2 == 1, Since: now, OrderID: "o"})
	}
	region, err := p.Observe(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	if l, g := s.Count("ListInstances"), s.Count("GetInstance"); l != 5 || g != 0 {
		t.Errorf("watching all 500: %d ListInstances and %d GetInstance, want 5 pages and none", l, g)
	}
	three := []provider.Watch{all[7], all[123], all[400]}
	got, err := p.Observe(ctx, three)
	if err != nil {
		t.Fatal(err)
	}
	if l, g := s.Count("ListInstances"), s.Count("GetInstance"); l != 5 || g != 3 {
		t.Errorf("watching 3 of 500: %d more ListInstances and %d GetInstance, want 0 and 3", l-5, g)
	}
	providertest.SameAsRegionRead(t, got, region, []provider.State{provider.StateDone, provider.StateInProgress, provider.StatePending})
}

// An instance GetInstance does not know is missing, as it is from the region's pages.
func TestObservingByIDReportsAnUnknownInstanceMissing(t *testing.T) {
	s, p := start(t, instanceYAML("amqp-1", "maxPrivateTps=3000"), "")
	w := provider.Watch{Instance: "amqp-gone", From: provider.Values{"maxPrivateTps": int64(3000)}, To: provider.Values{"maxPrivateTps": int64(5000)}}
	got, err := p.Observe(context.Background(), []provider.Watch{w})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].State != provider.StateMissing || s.Count("GetInstance") != 1 || s.Count("ListInstances") != 0 {
		t.Errorf("%s (%s) after %d GetInstance, %d ListInstances; want missing after one GetInstance", got[0].State, got[0].Message, s.Count("GetInstance"), s.Count("ListInstances"))
	}
}

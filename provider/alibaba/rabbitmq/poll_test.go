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

// Following 30 changes among the first 150 of 1,000 instances pages ListInstances only up to
// the last watched one (2 pages, not the region's 10: at 100,000 instances every RabbitMQ
// poll took 25 pages), judges them as the whole region read does, and a later poll of
// those instances still lists, knowing where they are, rather than sending 30 GetInstance.
// Once a whole read has recorded the region (10 pages), 8 of them are still listed (2
// pages) rather than read one by one, which the region's size alone would choose.
func TestFollowingStopsPagingAtTheLastWatchedInstance(t *testing.T) {
	base := "instanceType=enterprise, maxPrivateTps=3000, queueCapacity=1000, storageSize=0"
	var insts strings.Builder
	for i := range 1000 {
		extra := base
		if i%2 == 0 {
			extra += ", status=DEPLOYING"
		}
		insts.WriteString(instanceYAML(fmt.Sprintf("amqp-%04d", i), extra))
	}
	s, p := start(t, insts.String(), "")
	ctx := context.Background()
	from, to := provider.Values{"maxPrivateTps": int64(3000)}, provider.Values{"maxPrivateTps": int64(5000)}
	var ws []provider.Watch
	for i := 120; i < 150; i++ {
		ws = append(ws, provider.Watch{Instance: fmt.Sprintf("amqp-%04d", i), From: from, To: to, Started: true, Since: time.Now(), OrderID: "o"})
	}
	for round := range 2 {
		before := s.Count("ListInstances")
		got, err := p.Observe(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		if n := s.Count("ListInstances") - before; n != 2 {
			t.Errorf("poll %d of 30 watches in the first 150 of 1,000: %d ListInstances pages, want 2", round+1, n)
		}
		if g := s.Count("GetInstance"); g != 0 {
			t.Errorf("poll %d: %d GetInstance, want 0 (two pages cost less than 30)", round+1, g)
		}
		for i, pr := range got {
			if pr.State != provider.StateInProgress {
				t.Errorf("%s: %s (%s), want in progress (DEPLOYING, or SERVING within the start grace)", ws[i].Instance, pr.State, pr.Message)
			}
		}
	}
	if _, err := p.List(ctx, provider.Selection{}); err != nil { // as a plan or refresh does
		t.Fatal(err)
	}
	lists, gets := s.Count("ListInstances"), s.Count("GetInstance")
	if _, err := p.Observe(ctx, ws[:8]); err != nil {
		t.Fatal(err)
	}
	if l, g := s.Count("ListInstances")-lists, s.Count("GetInstance")-gets; l != 2 || g != 0 {
		t.Errorf("8 watches on the region's second page of 10: %d ListInstances pages and %d GetInstance, want 2 and 0", l, g)
	}
}

package rabbitmq

import (
	"context"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/amqp"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/provider"
)

// ListInstances is served from an index that trails GetInstance (cloudsim's listLag). A
// change GetInstance showed DEPLOYING is still SERVING at the old spec in the list when a
// later poll, carrying riders, pages the region: that is a change under way, not one that
// ended without taking effect, and an instance one list pass lacks is not gone. Observe
// takes a verdict that ends the step only from GetInstance.
func TestAListTrailingGetInstanceEndsNoStep(t *testing.T) {
	s, p, c, rc := changedUnderATrailingList(t)
	ctx := context.Background()
	step := provider.Watch{Instance: "amqp-a", Action: c.Action, From: c.From, To: c.To, Started: true, Since: time.Now(), OrderID: rc.OrderID}
	got, err := p.Observe(ctx, []provider.Watch{step}) // alone: GetInstance
	if err != nil || got[0].State != provider.StateInProgress || got[0].Status != statusDeploying {
		t.Fatalf("the step alone: %+v %v; want in progress, DEPLOYING", got, err)
	}
	rider := func(id string) provider.Watch {
		return provider.Watch{Instance: id, Action: c.Action, From: c.From, To: c.To}
	}
	got, err = p.Observe(ctx, []provider.Watch{step, rider("amqp-b"), rider("amqp-c")}) // with riders: the region's list
	if err != nil {
		t.Fatal(err)
	}
	if got[0].State != provider.StateInProgress {
		t.Errorf("with riders, from the trailing list: %s (%s %s); want in progress", got[0].State, got[0].Status, got[0].Message)
	}
	if got[1].State != provider.StatePending || got[2].State != provider.StatePending {
		t.Errorf("riders: %s, %s; want both pending", got[1].State, got[2].State)
	}
	lists, gets := len(s.CallsTo("ListInstances")), len(s.CallsTo("GetInstance"))
	if lists != 2 || gets != 2 {
		t.Errorf("%d ListInstances and %d GetInstance calls; want 2 and 2 (the plan's list, the riders' page; the step alone, the one confirmation)", lists, gets)
	}
}

// A call whose answer was lost is watched not started: an untouched instance (pending) held
// for the visibility grace gets the call again. From a list that trails GetInstance, the
// instance GetInstance shows DEPLOYING still looks untouched; that verdict, which licenses a
// resend, is taken from GetInstance.
func TestALostAnswersUntouchedVerdictIsNotTakenFromATrailingList(t *testing.T) {
	_, p, c, _ := changedUnderATrailingList(t)
	ctx := context.Background()
	// The answer was lost: the step is watched not started, its call maybe sent.
	lost := provider.Watch{Instance: "amqp-a", Action: c.Action, From: c.From, To: c.To, MaySent: true}
	rider := func(id string) provider.Watch {
		return provider.Watch{Instance: id, Action: c.Action, From: c.From, To: c.To}
	}
	got, err := p.Observe(ctx, []provider.Watch{lost, rider("amqp-b"), rider("amqp-c")}) // the region's list
	if err != nil {
		t.Fatal(err)
	}
	if got[0].State == provider.StatePending {
		t.Errorf("the lost answer's instance, from the trailing list: pending (untouched; a resend once the grace passed), status %s; want GetInstance's DEPLOYING", got[0].Status)
	}
	if got[0].Status != statusDeploying {
		t.Errorf("status %q; want DEPLOYING, as GetInstance shows it", got[0].Status)
	}
}

// A change of a field only GetInstance has (maxConnections) is judged on GetInstance's
// whole view under the region form, not on its fields merged onto the trailing list's
// status: merged, the lost answer's instance looked SERVING and untouched (pending), which
// licenses a resend, while GetInstance showed it DEPLOYING.
func TestADetailFieldsLostAnswerIsJudgedOnGetInstanceWhole(t *testing.T) {
	_, p, c, _ := changeUnderATrailingList(t, provider.Desired{"maxConnections": int64(3000)})
	lost := provider.Watch{Instance: "amqp-a", Action: c.Action, From: c.From, To: c.To, MaySent: true}
	rider := func(id string) provider.Watch {
		return provider.Watch{Instance: id, Action: c.Action, From: provider.Values{"maxPrivateTps": int64(3000)}, To: provider.Values{"maxPrivateTps": int64(5000)}}
	}
	got, err := p.Observe(context.Background(), []provider.Watch{lost, rider("amqp-b"), rider("amqp-c"), rider("amqp-b"), rider("amqp-c")})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].State == provider.StatePending || got[0].Status != statusDeploying {
		t.Errorf("the lost answer's instance under the region form: %s, status %s; want GetInstance's DEPLOYING, not pending", got[0].State, got[0].Status)
	}
}

// changedUnderATrailingList starts three RabbitMQ instances under a list lag of an hour
// (a minute of wall clock; the upgrade lasts ten seconds), lists them, which copies the
// list index, and sends amqp-a's change of maxPrivateTps: GetInstance shows it DEPLOYING,
// the list SERVING at the old spec.
func changedUnderATrailingList(t *testing.T) (*simtest.Sim, *Provider, provider.Change, provider.Receipt) {
	t.Helper()
	return changeUnderATrailingList(t, provider.Desired{"maxPrivateTps": int64(5000)})
}

// changeUnderATrailingList is changedUnderATrailingList with the change asked for.
func changeUnderATrailingList(t *testing.T, want provider.Desired) (*simtest.Sim, *Provider, provider.Change, provider.Receipt) {
	t.Helper()
	base := "instanceType=enterprise, maxPrivateTps=3000, queueCapacity=1000, storageSize=0, maxConnections=1500"
	insts := instanceYAML("amqp-a", base) + instanceYAML("amqp-b", base) + instanceYAML("amqp-c", base)
	state := accounts + "durations: {rabbitmq: 600s}\nlistLag: {rabbitmq: 1h}\nrabbitmq:\n" + insts
	s := simtest.Start(t, state, sim.Options{TimeScale: 60}, amqp.New())
	p := open(t, s, "test-ak", "test-sk")
	ctx := context.Background()
	all, err := p.List(ctx, provider.Selection{})
	if err != nil || len(all) != 3 {
		t.Fatalf("List: %v %v", all, err)
	}
	changes, err := p.Plan(ctx, all[0], want)
	if err != nil || len(changes) != 1 {
		t.Fatalf("Plan: %v %v", changes, err)
	}
	c := changes[0]
	rc, err := p.Apply(ctx, provider.Call{Instance: "amqp-a", Action: c.Action, Params: c.Params, ClientToken: "lag-token"})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return s, p, c, rc
}

package executor

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// fakeKernelKind is a product like alibaba.mongodb: a verdict costs a read of its own
// (provider.Spec.ReadPerWatch), one Attribute request per watched instance at 10/s.
const fakeKernelKind = "fake.kernel"

// kernelRegistry is c's registry with fakeKernelKind beside fakeKind.
func (c *fakeCloud) kernelRegistry() provider.Registry {
	reg := c.registry()
	reg[fakeKernelKind] = provider.Spec{
		Kind: fakeKernelKind, Cloud: "fake", IdempotencyToken: true, ReadPerWatch: true,
		Actions: []provider.ActionSpec{{Name: "Upgrade", Mutating: true, QPS: 10}, {Name: "Attribute", QPS: 10}},
		New: func(cfg provider.Config) (provider.Provider, error) {
			return &fakeProvider{c: c, cfg: cfg, kind: fakeKernelKind}, nil
		},
	}
	return reg
}

// observeEach reads every watched instance with a request of its own, up to 8 at once, as
// MongoDB reads each kernel with DescribeDBInstanceAttribute.
func (p *fakeProvider) observeEach(ctx context.Context, ws []provider.Watch) ([]provider.Progress, error) {
	out := make([]provider.Progress, len(ws))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, w := range ws {
		g.Go(func() error {
			return p.cfg.Doer.Do(ctx, p.req("Attribute", w.Instance, false), func(ctx context.Context) error {
				c := p.c
				if c.latency != nil {
					in, back := c.latency()
					time.Sleep(in)
					defer time.Sleep(back)
				}
				c.mu.Lock()
				defer c.mu.Unlock()
				now := time.Now()
				c.settle(now)
				if c.admit("Attribute", w.Instance) {
					return &provider.Error{Class: provider.ClassThrottled, Kind: fakeKernelKind, Action: "Attribute", Code: "Throttling.User"}
				}
				out[i] = c.progressOf(w, now)
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// A kind whose verdicts cost a read each takes its parallelism slot at its gate, before its
// look; its steps go at most half its read cap a second (a verdict and a confirmation
// each). A gate of ⌈cap⌉ (10) put 10 of its steps, slot held, in the queue of its 10/s read
// bucket, so another kind's steps, which only wanted slots, waited for them; a gate sized
// by the pace its reads allow and the round trips they take (3 here) leaves those slots to
// the other kind's work.
func TestAReadPerWatchGateHoldsTheSlotsItsPaceNeeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const nk, nf = 60, 150
		insts := fleetOf(nk, "k", "1")
		for id, v := range fleetOf(nf, "f", "1") {
			insts[id] = v
		}
		cloud := newFakeCloud(time.Second, insts)
		cloud.latency = func() (time.Duration, time.Duration) { return 30 * time.Millisecond, 70 * time.Millisecond }
		var steps []planner.Step
		for i := 1; i <= nk; i++ {
			s := versionStep("tk", fmt.Sprintf("k-%d", i), "1", "2", 0)
			s.Kind = fakeKernelKind
			steps = append(steps, s)
		}
		for i := 1; i <= nf; i++ {
			steps = append(steps, versionStep("tf", fmt.Sprintf("f-%d", i), "1", "2", 0))
		}
		settings := planner.Settings{Parallelism: 12, QPS: map[string]float64{fakeKind + "/Upgrade": 50}}
		plan := planOf(t, settings, []planner.Target{
			{Name: "tk", Kind: fakeKernelKind, Region: "r1"}, {Name: "tf", Kind: fakeKind, Region: "r1"},
		}, steps)
		start := time.Now()
		rec, err := runApply(t, t.Context(), plan, cloud.kernelRegistry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if rec.Outcome.ExitCode != ExitOK || rec.Counts[StatusSucceeded] != nk+nf {
			t.Fatalf("outcome %+v counts %v", rec.Outcome, rec.Counts)
		}
		for inst, n := range cloud.upgrades() {
			if n != 1 {
				t.Errorf("%s upgraded %d times", inst, n)
			}
		}
		t.Logf("the run took %s", took)
		// The bound: 210 one-second steps on 12 slots, 17.5 s. Measured: 25.0-26.6 s with
		// the gate sized (race detector included), 29.6-30.5 s with a gate of ⌈cap⌉.
		if took > 28*time.Second {
			t.Errorf("the run took %s; with the kernel kind's gate at what its pace needs it takes about 26 s", took)
		}
	})
}

// Far from the cloud's endpoint (a second a round trip) the same pace needs more steps in
// the gate at once: each spends three round trips there (the poll of its group its look
// may wait for, the look, its call). With the other kind waiting for slots, a gate held to
// half a second of the pace (3) took 47.6-48.7 s; sized by the round trips, the gate grows
// back to ⌈cap⌉ (10): 29.7-31.0 s, as with no sizing at all (29.7-30.4 s).
func TestAReadPerWatchGateGrowsWithTheRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const nk, nf = 60, 150
		insts := fleetOf(nk, "k", "1")
		for id, v := range fleetOf(nf, "f", "1") {
			insts[id] = v
		}
		cloud := newFakeCloud(time.Second, insts)
		cloud.latency = func() (time.Duration, time.Duration) { return 300 * time.Millisecond, 700 * time.Millisecond }
		var steps []planner.Step
		for i := 1; i <= nk; i++ {
			s := versionStep("tk", fmt.Sprintf("k-%d", i), "1", "2", 0)
			s.Kind = fakeKernelKind
			steps = append(steps, s)
		}
		for i := 1; i <= nf; i++ {
			steps = append(steps, versionStep("tf", fmt.Sprintf("f-%d", i), "1", "2", 0))
		}
		settings := planner.Settings{Parallelism: 30, QPS: map[string]float64{fakeKind + "/Upgrade": 50}}
		plan := planOf(t, settings, []planner.Target{
			{Name: "tk", Kind: fakeKernelKind, Region: "r1"}, {Name: "tf", Kind: fakeKind, Region: "r1"},
		}, steps)
		start := time.Now()
		rec, err := runApply(t, t.Context(), plan, cloud.kernelRegistry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if rec.Outcome.ExitCode != ExitOK || rec.Counts[StatusSucceeded] != nk+nf {
			t.Fatalf("outcome %+v counts %v", rec.Outcome, rec.Counts)
		}
		t.Logf("the run took %s", took)
		if took > 40*time.Second {
			t.Errorf("the run took %s; with the gate grown to the round trip it takes about 30 s", took)
		}
	})
}

// A gate resized below what its steps hold hands out no slot until enough came back, and
// one resized above it hands the new slots to the steps waiting at once.
func TestSlotsResize(t *testing.T) {
	s := newSlots(3, nil)
	ctx := t.Context()
	for range 3 {
		if ok, waited := s.acquire(ctx, &stepState{}, nil); !ok || waited {
			t.Fatalf("acquire of a free slot: ok %v waited %v", ok, waited)
		}
	}
	s.resize(1)
	got := make(chan struct{})
	go func() {
		s.acquire(ctx, &stepState{}, nil)
		close(got)
	}()
	for s.waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.release()
	s.release()
	select {
	case <-got:
		t.Fatal("a slot was handed out while 1 of a gate of 1 was held")
	case <-time.After(20 * time.Millisecond):
	}
	s.release()
	<-got // the last release brings the held slots under the size: the waiter gets one
	s.resize(3)
	for range 2 {
		if ok, waited := s.acquire(ctx, &stepState{}, nil); !ok || waited {
			t.Fatalf("acquire after growing to 3 with 1 held: ok %v waited %v", ok, waited)
		}
	}
	s.mu.Lock()
	free := s.free
	s.mu.Unlock()
	if free != 0 {
		t.Errorf("free %d, want 0 with 3 of 3 held", free)
	}
}

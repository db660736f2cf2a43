package executor

import (
	"context"
	"fmt"
	"sync/atomic"
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

// kernelSteps is n steps of target tk, kind fakeKernelKind, on instances k-1…k-n from 1 to 2.
func kernelSteps(n int) []planner.Step {
	var steps []planner.Step
	for i := 1; i <= n; i++ {
		s := versionStep("tk", fmt.Sprintf("k-%d", i), "1", "2", 0)
		s.Kind = fakeKernelKind
		steps = append(steps, s)
	}
	return steps
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
		steps := kernelSteps(nk)
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
		// The bound: 210 one-second steps on 12 slots, 17.5 s. Measured: 24.7-27.5 s (300 runs) with
		// the gate sized (race detector included), 28.8-32.4 s with a gate of ⌈cap⌉.
		if took > 28*time.Second {
			t.Errorf("the run took %s; with the kernel kind's gate at what its pace needs it takes about 26 s", took)
		}
	})
}

// Far from the cloud's endpoint (a second a round trip) the same pace needs more steps in
// the gate at once: each spends three round trips there (the poll of its group its look
// may wait for, the look, its call). With the other kind waiting for slots, a gate held to
// half a second of the pace (3) took 32-37 s or 47-49 s (the order the goroutines run in
// picks one; about half the runs fail the bound); sized by the round trips, the gate grows
// back to ⌈cap⌉ (10): 28.9-32.8 s, as with no sizing at all. The run bounds the pace a user
// sees; TestReadPerWatchGateSize proves the size itself.
func TestAReadPerWatchGateGrowsWithTheRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const nk, nf = 60, 150
		insts := fleetOf(nk, "k", "1")
		for id, v := range fleetOf(nf, "f", "1") {
			insts[id] = v
		}
		cloud := newFakeCloud(time.Second, insts)
		cloud.latency = func() (time.Duration, time.Duration) { return 300 * time.Millisecond, 700 * time.Millisecond }
		steps := kernelSteps(nk)
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

// While no step waits for a parallelism slot, the gate stays at ⌈cap⌉: a slot held before
// the call costs nothing then, and a gate held to the read pace would only let fewer steps
// start their upgrades at once and read more often for them (the ideal bench: MongoDB's
// completion polls tripled). 120 kernel steps at parallelism 2,000: 26.5-26.9 s and about
// 258 Attribute reads with the gate at ⌈cap⌉, 36.8-37.4 s and about 355 reads sized.
func TestAReadPerWatchGateKeepsItsCapWhileNoOneWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const nk = 120
		cloud := newFakeCloud(time.Second, fleetOf(nk, "k", "1"))
		cloud.latency = func() (time.Duration, time.Duration) { return 30 * time.Millisecond, 70 * time.Millisecond }
		steps := kernelSteps(nk)
		plan := planOf(t, planner.Settings{Parallelism: 2000}, []planner.Target{{Name: "tk", Kind: fakeKernelKind, Region: "r1"}}, steps)
		start := time.Now()
		rec, err := runApply(t, t.Context(), plan, cloud.kernelRegistry(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		took, reads := time.Since(start), len(cloud.callsOf("Attribute"))
		if rec.Outcome.ExitCode != ExitOK || rec.Counts[StatusSucceeded] != nk {
			t.Fatalf("outcome %+v counts %v", rec.Outcome, rec.Counts)
		}
		t.Logf("the run took %s and %d Attribute reads", took, reads)
		if took > 31*time.Second {
			t.Errorf("the run took %s; with the gate at ⌈cap⌉ while no step waits for a slot it takes about 27 s", took)
		}
		if reads > 300 {
			t.Errorf("%d Attribute reads; with the gate at ⌈cap⌉ while no step waits for a slot about 258", reads)
		}
	})
}

// A gate resized below what its steps hold hands out no slot until enough came back, and
// one resized above it hands the new slots to the steps waiting at once.
func TestSlotsResize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSlots(3, nil)
		ctx := t.Context()
		for range 3 {
			if ok, waited := s.acquire(ctx, &stepState{}, nil); !ok || waited {
				t.Fatalf("acquire of a free slot: ok %v waited %v", ok, waited)
			}
		}
		s.resize(1)
		var granted atomic.Int32
		for i := range 3 {
			go func() {
				if ok, _ := s.acquire(ctx, &stepState{pos: i}, nil); ok {
					granted.Add(1)
				}
			}()
		}
		synctest.Wait()
		s.release()
		s.release()
		synctest.Wait()
		if n := granted.Load(); n != 0 {
			t.Fatalf("%d slots handed out while 1 of a gate of 1 was held", n)
		}
		s.release()
		synctest.Wait()
		if n := granted.Load(); n != 1 {
			t.Fatalf("the release that brought the held slots under the size handed out %d slots, want 1", n)
		}
		s.resize(3) // 1 held, 2 waiting: both get the new slots
		synctest.Wait()
		if n := granted.Load(); n != 3 {
			t.Fatalf("growing to 3 with 1 held and 2 waiting granted %d in all, want 3", n)
		}
		if s.waiting() != 0 {
			t.Fatalf("%d steps still wait at a gate with room", s.waiting())
		}
		for range 3 {
			s.release()
		}
		s.mu.Lock()
		free, size := s.free, s.size
		s.mu.Unlock()
		if free != 3 || size != 3 {
			t.Errorf("free %d of %d after every slot came back, want 3 of 3", free, size)
		}
	})
}

// The size itself: a second of calls (⌈rate⌉) while three round trips take a second or
// more, the half second (or three round trips) of the read pace otherwise, never more than
// ⌈rate⌉ and never less than 1.
func TestReadPerWatchGateSize(t *testing.T) {
	for _, c := range []struct {
		rate, readRate float64
		rtt            time.Duration
		want           int
	}{
		{10, 10, time.Second, 10},           // 3 s of a pace of 5, capped at ⌈rate⌉
		{10, 10, 100 * time.Millisecond, 3}, // half a second of a pace of 5
		{10, 10, 300 * time.Millisecond, 5}, // 0.9 s of a pace of 5
		{2, 10, 100 * time.Millisecond, 1},  // the pace is the call rate's: 2 × 0.5 s
		{10, 0.5, 100 * time.Millisecond, 1},
		{0.5, 10, time.Second, 1},
	} {
		if got := readPerWatchGate(c.rate, c.readRate, c.rtt); got != c.want {
			t.Errorf("readPerWatchGate(%v, %v, %s) = %d, want %d", c.rate, c.readRate, c.rtt, got, c.want)
		}
	}
}

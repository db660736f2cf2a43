package executor

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// doneAt is a provider whose instances are done at given times, counting its Observes.
type doneAt struct {
	provider.Provider
	done  map[string]time.Time
	polls atomic.Int64
}

func (p *doneAt) Observe(_ context.Context, ws []provider.Watch) ([]provider.Progress, error) {
	p.polls.Add(1)
	out := make([]provider.Progress, len(ws))
	for i, w := range ws {
		out[i] = provider.Progress{Instance: w.Instance, State: provider.StateInProgress}
		if !time.Now().Before(p.done[w.Instance]) {
			out[i].State = provider.StateDone
		}
	}
	return out, nil
}

// followAll sends n steps `apart` from each other, each done `d` after its call, and follows
// them (awaited, as a run waiting for slots does) until all are seen done; it returns the
// polls made and the longest lag from a step's end to the poll that showed it.
func followAll(t *testing.T, n int, apart, d time.Duration) (polls int64, lag time.Duration) {
	return followWith(t, n, apart, d, &estimate{}, func() (bool, time.Duration) { return true, 0 })
}

// followWith is followAll with the action's estimate and what the run says awaits the steps.
func followWith(t *testing.T, n int, apart, d time.Duration, est *estimate, awaited func() (bool, time.Duration)) (polls int64, lag time.Duration) {
	prov := &doneAt{done: map[string]time.Time{}}
	o := newObserver(groupKey{kind: fakeKind}, prov, 15*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		prov.done[fmt.Sprintf("i-%d", i)] = start.Add(time.Duration(i)*apart + d)
	}
	go o.run(ctx)
	for i := range n {
		id := fmt.Sprintf("i-%d", i)
		since := start.Add(time.Duration(i) * apart)
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(since))
			for {
				r, err := o.followStep(ctx, provider.Watch{Instance: id, Started: true, Since: since},
					&followInfo{since: since, est: est, awaited: awaited})
				if err != nil {
					t.Error(err)
					return
				}
				if r.p.State == provider.StateDone {
					est.add(time.Since(since))
					mu.Lock()
					lag = max(lag, time.Since(since.Add(d)))
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return prov.polls.Load(), lag
}

// Before anything of an action has completed, steps sent 200 ms apart probe their group
// together: a poll one step's probe asks for counts as a probe of every step it covers, so
// eight steps of 3 s cost the probes of one (0.5 s × 1.25^k), each one's first probe and
// its check once the estimate says it is due (21 polls), where the eight interleaved
// series polled 28 times; and no step's end waits longer for a look than its own series
// spaces them (a quarter of its age).
func TestProbesOfStepsSentTogetherAreShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		polls, lag := followAll(t, 8, 200*time.Millisecond, 3*time.Second)
		t.Logf("%d polls, longest lag %s", polls, lag)
		if polls > 22 {
			t.Errorf("%d polls to follow 8 steps of 3 s sent 200 ms apart, want at most 22", polls)
		}
		if lag > 3*time.Second/4 {
			t.Errorf("a step's end was seen %s late, more than a quarter of its 3 s", lag)
		}
	})
}

// Steps only the end of their bucket's work waits on are checked by their slack: where the
// run's end is 20 s further than theirs, eight steps of 3 s (the estimate says 1 s) are
// seen in a handful of polls, half the slack apart at most, where with no slack their
// group is checked every quarter of the estimate until the last is seen (lag under 0.5 s).
func TestSlackSpacesTheChecksOfStepsNothingWaitsOn(t *testing.T) {
	run := func(slack time.Duration) (int64, time.Duration) {
		var polls int64
		var lag time.Duration
		synctest.Test(t, func(t *testing.T) {
			est := &estimate{}
			est.add(time.Second)
			polls, lag = followWith(t, 8, 250*time.Millisecond, 3*time.Second, est, func() (bool, time.Duration) { return true, slack })
		})
		return polls, lag
	}
	eagerPolls, eagerLag := run(0)
	lazyPolls, lazyLag := run(20 * time.Second)
	t.Logf("no slack: %d polls, longest lag %s; 20 s of slack: %d polls, longest lag %s", eagerPolls, eagerLag, lazyPolls, lazyLag)
	if eagerLag > 500*time.Millisecond {
		t.Errorf("with no slack a step's end was seen %s late, want at most a quarter of the estimate plus nothing", eagerLag)
	}
	if lazyPolls > 3 || lazyPolls*3 > eagerPolls {
		t.Errorf("with 20 s of slack %d polls (with none %d), want at most 3 and a third of them", lazyPolls, eagerPolls)
	}
	if lazyLag > 10*time.Second {
		t.Errorf("with 20 s of slack a step's end was seen %s late, more than half the slack", lazyLag)
	}
}

package executor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// groupKey is one bulk read's scope: a kind under an account in a region.
type groupKey struct{ kind, account, region string }

func (k groupKey) String() string {
	acct := k.account
	if acct == "" {
		acct = "default"
	}
	return k.kind + " " + acct + " " + k.region
}

// observer batches every look at a group's instances into one provider.Observe: steps in
// flight ask to be followed, steps about to start ask to be judged (urgent: answered by the
// next Observe, without waiting). When to poll is decided in run; see the package doc.
type observer struct {
	key      groupKey
	prov     provider.Provider
	interval time.Duration

	mu       sync.Mutex
	queue    []*observation
	lastPoll time.Time
	wake     chan struct{}
	// riders, when set, adds to every poll the watches of steps about to start and takes
	// their answers, so that a step released by what this poll shows (its dependency done, a
	// slot freed) is judged from this very observation instead of costing a poll of its own.
	riders func() ([]provider.Watch, func([]provider.Progress))
	// perWatch is the kind's provider.Spec.ReadPerWatch: a followed step costs reads of
	// its own in a poll (MongoDB: a list page, and a kernel read once its instance is
	// Running), so a started step rides another's poll only once it is due.
	perWatch bool
	// waiters are the group's steps whose calls wait for their rate-limit tokens, in the
	// order they began to wait (stepState.tokenWait says whether they still
	// do): they ride first.
	waiters []*stepState
}

type observation struct {
	watch  provider.Watch
	urgent bool
	// follow is set for a started step: its completion is checked when the duration estimate
	// says it is due, while awaited says something is held up until it is seen done; at the
	// slow cadence (the poll interval) otherwise.
	follow *followInfo
	// dueAt is when the step's timing asks for its next check, as nextPoll last found
	// (guarded by observer.mu; zero: at once).
	dueAt time.Time
	// eager: it has no slack (a step waits for a slot, or its bucket's work is the run's
	// end), so any poll of the group checks it (nextPoll).
	eager bool
	reply chan observed // buffered: the poller never blocks on a step that gave up
}

// followInfo is what the poller needs to time a started step's checks.
type followInfo struct {
	since time.Time
	est   *estimate
	// awaited says whether something may be held up until the step is seen done and how
	// much lag it can take meanwhile (its slack, run.awaited): 0 is none.
	awaited func() (bool, time.Duration)
	// next is the watch of the step chained after this one on the same instance; it rides in
	// the same Observe, so that the successor is judged from the answer that shows this step
	// done instead of costing a poll of its own.
	next *provider.Watch
	// awaitedAt is when the poller first found the step awaited since it last found it
	// not awaited (guarded by observer.mu): the checks of a step that became awaited long
	// after it was due start from there, not from the call.
	awaitedAt time.Time
}

type observed struct {
	p    provider.Progress
	next *provider.Progress
	err  error
}

// Poll timing (see the package doc).
const (
	// probeStart is the first check of a step whose action has no duration estimate yet;
	// later checks are probeGrowth times further from the call, up to the poll interval.
	probeStart  = 500 * time.Millisecond
	probeGrowth = 1.25
	// probeCap: probes stop growing past it (or the poll interval, if longer).
	probeCap = 2 * time.Second
	// dueDivisor: once a step is due, its group is checked every estimate/dueDivisor, and
	// polls that due steps ask for are at least that far apart.
	dueDivisor = 4
	minDueGap  = 100 * time.Millisecond
	// reconsider: the poller looks at its queue's timing at least this often, since a
	// step's slack (and so its spacing) changes as the run goes without anyone telling.
	reconsider = time.Second
)

// estimate is an action's completion time: the shortest time from an accepted call to its
// step being seen done. Every sample is the true duration plus a polling lag, so the
// minimum is the closest to the truth.
type estimate struct {
	mu sync.Mutex
	d  time.Duration
	n  int
}

func (e *estimate) add(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == 0 || d < e.d {
		e.d = d
	}
	e.n++
}

func (e *estimate) get() (time.Duration, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.d, e.n > 0
}

// gap is the closest spacing of the step's checks once due: a quarter of the estimate,
// or minDueGap before there is one.
func (f *followInfo) gap() time.Duration {
	if d, ok := f.est.get(); ok {
		return max(d/dueDivisor, minDueGap)
	}
	return minDueGap
}

// nextCheck is the first time after `after` at which the step deserves a look, and the
// smallest gap the poll it asks for must keep from the previous poll. With an estimate d the
// checks are at since+d, then gap, 2·gap, 4·gap, … later (gap = d/dueDivisor); without one
// they probe at probeStart, growing by probeGrowth. Past the poll interval the slow cadence
// takes over.
func (f *followInfo) nextCheck(after time.Time, interval time.Duration) (time.Time, time.Duration) {
	if d, ok := f.est.get(); ok {
		gap := max(d/dueDivisor, minDueGap)
		t := f.since.Add(d)
		if f.awaitedAt.After(t) {
			t = f.awaitedAt // due long ago, awaited only now: the series starts now
		}
		slow := max(interval, d)
		for step := gap; !t.After(after); step *= 2 {
			if step > slow {
				return after.Add(slow), gap
			}
			t = t.Add(step)
		}
		return t, gap
	}
	// Probes: the poll at `after` covered the step once it was past its first probe (it
	// was queued then), so the next probe is the series' spacing at the step's age after
	// that poll, not the series' next point: a poll another step's probe asked for counts
	// as this one's. A step's checks are then never further apart than its own series
	// spaces them, while the probes of steps sent a moment apart no longer interleave
	// into a poll every minDueGap before anything of the action has completed.
	p := probeStart
	slow := max(interval, probeCap)
	for !f.since.Add(p).After(after) {
		if p > slow {
			return after.Add(slow), minDueGap
		}
		np := time.Duration(float64(p) * probeGrowth)
		if f.since.Add(np).After(after) {
			return after.Add(np - p), minDueGap
		}
		p = np
	}
	return f.since.Add(p), minDueGap
}

func newObserver(key groupKey, prov provider.Provider, interval time.Duration) *observer {
	return &observer{key: key, prov: prov, interval: interval, wake: make(chan struct{}, 1), lastPoll: time.Now()}
}

// addTokenWaiter notes a step whose call waits for its rate-limit token.
func (o *observer) addTokenWaiter(s *stepState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.waiters = append(o.waiters, s)
}

// tokenWaiters returns up to n of the steps still waiting for their tokens, the longest
// waiting first, and forgets those that stopped waiting.
func (o *observer) tokenWaiters(n int) []*stepState {
	o.mu.Lock()
	defer o.mu.Unlock()
	keep := o.waiters[:0]
	for _, s := range o.waiters {
		if s.tokenWait.Load() {
			keep = append(keep, s)
		}
	}
	clear(o.waiters[len(keep):])
	o.waiters = keep
	return append([]*stepState(nil), keep[:min(n, len(keep))]...)
}

// observe waits for the next batched Observe that covers w.
func (o *observer) observe(ctx context.Context, w provider.Watch, urgent bool) (provider.Progress, error) {
	r, err := o.enqueue(ctx, &observation{watch: w, urgent: urgent})
	return r.p, err
}

// followStep waits for the Observe that the step's timing asks for (see followInfo).
func (o *observer) followStep(ctx context.Context, w provider.Watch, f *followInfo) (observed, error) {
	return o.enqueue(ctx, &observation{watch: w, follow: f})
}

func (o *observer) enqueue(ctx context.Context, ob *observation) (observed, error) {
	ob.reply = make(chan observed, 1)
	o.mu.Lock()
	o.queue = append(o.queue, ob)
	o.mu.Unlock()
	o.poke()
	select {
	case r := <-ob.reply:
		return r, r.err
	case <-ctx.Done():
		return observed{}, ctx.Err()
	}
}

// poke makes the poller look at its queue again.
func (o *observer) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// nextPoll is when the queue asks for the next poll; ok is false for an empty queue.
func (o *observer) nextPoll(now time.Time) (next time.Time, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) == 0 {
		return time.Time{}, false
	}
	slow := o.lastPoll.Add(o.interval)
	urgent := false
	for _, ob := range o.queue {
		if ob.urgent {
			urgent = true
			continue
		}
		t := slow
		ob.eager = false
		if f := ob.follow; f != nil && f.awaited != nil {
			aw, slack := f.awaited()
			var gap time.Duration
			if aw {
				spacing := f.gap()
				if slack > 0 {
					// Only the end of its bucket's work waits on it, and the run's end is
					// further away than that: half the slack apart, never further than
					// the slow cadence, never closer than when awaited.
					spacing = min(max(spacing, slack/2), max(spacing, o.interval))
				}
				ob.eager = spacing == f.gap()
				if ob.eager {
					if f.awaitedAt.IsZero() {
						f.awaitedAt = now
					}
				} else {
					f.awaitedAt = time.Time{}
				}
				t, gap = f.nextCheck(o.lastPoll, o.interval)
				t = later(t, o.lastPoll.Add(max(gap, spacing)))
			} else {
				// Nothing waits on it: not before it is due, nor more often than the
				// poll interval.
				f.awaitedAt = time.Time{}
				t, _ = f.nextCheck(o.lastPoll, o.interval)
				t = later(t, slow)
			}
		}
		ob.dueAt = t
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if urgent {
		return now, true
	}
	return next, true
}

// run polls until ctx is done.
func (o *observer) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, ok := o.nextPoll(time.Now())
		if !ok {
			select {
			case <-o.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		if d := time.Until(next); d > 0 {
			timer.Reset(min(d, reconsider))
			select {
			case <-timer.C:
				if d > reconsider {
					continue // look at the timing again
				}
			case <-o.wake:
				if !timer.Stop() {
					<-timer.C
				}
				continue
			case <-ctx.Done():
				return
			}
		}
		o.poll(ctx)
	}
}

func (o *observer) poll(ctx context.Context) {
	o.mu.Lock()
	batch := o.queue
	o.queue = nil
	now := time.Now()
	o.lastPoll = now
	if o.perWatch {
		// Started steps not yet due wait for their own poll: here riding costs reads.
		var keep []*observation
		batch, keep = splitDue(batch, now)
		o.queue = keep
	}
	o.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	watches := make([]provider.Watch, 0, len(batch))
	nextAt := make([]int, len(batch))
	for i, ob := range batch {
		watches = append(watches, ob.watch)
		nextAt[i] = -1
		if ob.follow != nil && ob.follow.next != nil {
			nextAt[i] = len(watches)
			watches = append(watches, *ob.follow.next)
		}
	}
	own := len(watches)
	var deliver func([]provider.Progress)
	if o.riders != nil && own > 0 {
		var rw []provider.Watch
		rw, deliver = o.riders()
		watches = append(watches, rw...)
	}
	ps, err := observeSafely(asPoll(ctx), o.prov, watches)
	if err == nil && len(ps) != len(watches) {
		err = fmt.Errorf("%s: observe answered %d of %d watches", o.key, len(ps), len(watches))
	}
	if err == nil && deliver != nil {
		deliver(ps[own:])
	}
	k := 0
	for i, ob := range batch {
		if err != nil {
			ob.reply <- observed{err: err}
			continue
		}
		r := observed{p: ps[k]}
		if nextAt[i] >= 0 {
			p := ps[nextAt[i]]
			r.next = &p
		}
		k++
		if nextAt[i] >= 0 {
			k++
		}
		ob.reply <- r
	}
}

// splitDue splits a batch into what the poll at now carries (looks, started steps whose
// timing is due, and those something waits on: where slots bind, lag costs more than the
// reads) and the started steps that can wait for their own time.
func splitDue(batch []*observation, now time.Time) (due, notYet []*observation) {
	for _, ob := range batch {
		if ob.follow != nil && !ob.urgent && !ob.eager && ob.dueAt.After(now.Add(minDueGap)) {
			notYet = append(notYet, ob)
			continue
		}
		due = append(due, ob)
	}
	return due, notYet
}

// observeSafely calls Observe and turns a panic inside the provider into an error.
func observeSafely(ctx context.Context, p provider.Provider, ws []provider.Watch) (ps []provider.Progress, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("observe: provider panicked: %v", r)
		}
	}()
	return p.Observe(ctx, ws)
}

// applySafely calls Apply and turns a panic inside the provider into an outcome-unknown
// error: the call may have been sent.
func applySafely(ctx context.Context, p provider.Provider, c provider.Call) (r provider.Receipt, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			err = &provider.Error{Class: provider.ClassUnknown, Action: c.Action, Instance: c.Instance,
				Message: fmt.Sprintf("provider panicked: %v", rec)}
		}
	}()
	return p.Apply(ctx, c)
}

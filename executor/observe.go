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

// observer batches every look at a group's instances into one provider.Observe per poll
// interval: steps in flight ask to be followed, steps about to start ask to be judged
// (urgent: answered by the next Observe, without waiting for the interval).
type observer struct {
	key      groupKey
	prov     provider.Provider
	interval time.Duration

	mu       sync.Mutex
	queue    []*observation
	lastPoll time.Time
	wake     chan struct{}
}

type observation struct {
	watch  provider.Watch
	urgent bool
	reply  chan observed // buffered: the poller never blocks on a step that gave up
}

type observed struct {
	p   provider.Progress
	err error
}

func newObserver(key groupKey, prov provider.Provider, interval time.Duration) *observer {
	return &observer{key: key, prov: prov, interval: interval, wake: make(chan struct{}, 1)}
}

// observe waits for the next batched Observe that covers w.
func (o *observer) observe(ctx context.Context, w provider.Watch, urgent bool) (provider.Progress, error) {
	ob := &observation{watch: w, urgent: urgent, reply: make(chan observed, 1)}
	o.mu.Lock()
	o.queue = append(o.queue, ob)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	select {
	case r := <-ob.reply:
		return r.p, r.err
	case <-ctx.Done():
		return provider.Progress{}, ctx.Err()
	}
}

// run polls until ctx is done.
func (o *observer) run(ctx context.Context) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		o.mu.Lock()
		n := len(o.queue)
		urgent := false
		for _, ob := range o.queue {
			urgent = urgent || ob.urgent
		}
		next := o.lastPoll.Add(o.interval)
		o.mu.Unlock()
		if n == 0 {
			select {
			case <-o.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		if d := time.Until(next); !urgent && d > 0 {
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			select {
			case <-timer.C:
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
	o.lastPoll = time.Now()
	o.mu.Unlock()
	watches := make([]provider.Watch, len(batch))
	for i, ob := range batch {
		watches[i] = ob.watch
	}
	ps, err := observeSafely(asPoll(ctx), o.prov, watches)
	if err == nil && len(ps) != len(watches) {
		err = fmt.Errorf("%s: observe answered %d of %d watches", o.key, len(ps), len(watches))
	}
	for i, ob := range batch {
		if err != nil {
			ob.reply <- observed{err: err}
			continue
		}
		ob.reply <- observed{p: ps[i]}
	}
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

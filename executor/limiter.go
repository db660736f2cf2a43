package executor

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// DefaultQPS is the rate of an action whose cap the API documents do not state.
const DefaultQPS = 10

// SafetyMargin is the share of a cap the Limiter keeps unused. The clouds (and cloudsim) count
// accepted requests in a sliding one-second window at arrival; a bucket of burst 1 refilling at
// cap·(1−SafetyMargin) spaces requests 1/(0.99·cap) apart, so cap+1 consecutive requests span
// about 1.01 s. Spacing alone cannot absorb the jitter between taking a token and the request
// being stamped by the server (tens of milliseconds under load); WindowGuard does, so the
// margin only needs to cover timer granularity, and costs 1% of the cap.
const SafetyMargin = 0.01

// Retry bounds the retries of one request inside the Limiter (and of a mutating call in a
// step): exponential backoff with full jitter, sleep = rand(0, min(Cap, Base·2^attempt)).
type Retry struct {
	Attempts int           // total sends of one request, first included
	Base     time.Duration // backoff of the first retry (upper bound)
	Cap      time.Duration // upper bound of any one backoff
}

// DefaultRetry is the Limiter's default policy.
var defaultRetry = Retry{Attempts: 8, Base: 200 * time.Millisecond, Cap: 10 * time.Second}

// DefaultRetry returns the default retry policy.
func DefaultRetry() Retry { return defaultRetry }

func (p Retry) withDefaults() Retry {
	d := defaultRetry
	if p.Attempts > 0 {
		d.Attempts = p.Attempts
	}
	if p.Base > 0 {
		d.Base = p.Base
	}
	if p.Cap > 0 {
		d.Cap = p.Cap
	}
	return d
}

// Limiter is the executor's provider.Doer: one token bucket (burst 1) per (account,
// "kind/Action") for every request, reads and polls included. On a throttling answer the
// bucket halves its rate, then climbs back by an eighth of the configured rate after every
// quiet second. Reads are retried on throttled, retryable and outcome-unknown errors; a
// mutating request only when throttled (a throttled call did nothing). Safe for concurrent use.
type Limiter struct {
	rates    map[string]float64 // "kind/Action" → configured rate
	mutating map[string]bool
	retry    Retry
	lump     time.Duration
	sleep    func(context.Context, time.Duration) error // the package's sleep; tests wrap it

	randMu sync.Mutex
	rnd    *rand.Rand

	throttles atomic.Int64

	mu      sync.Mutex
	buckets map[bucketKey]*bucket
	shared  map[string]string // LimiterOptions.SharedBuckets
}

// LimiterOptions tune a Limiter; the zero value is the default.
type LimiterOptions struct {
	Retry Retry
	// Seed seeds the backoff jitter; 0 picks a random seed.
	Seed uint64
	// Lump, when set, ends every wait of a request (for the window guard, for its token)
	// on the next multiple of Lump on the wall clock, so the requests of all buckets wake
	// and leave together and the process wakes once a Lump instead of once a request (or
	// twice: the guard's wait and the token's end at different instants). A bucket then
	// holds a Lump of its rate and one more as tokens (burst ⌈rate·Lump⌉+1, not 1), so the
	// tokens that come while its requests sleep to the lump are not lost. A request only ever
	// leaves later than the guard and its token allow, and the window guard still spaces
	// request n+⌊cap⌋ a second after request n, so no cap is exceeded; it costs a waiting
	// request up to a Lump of latency (a step of the wall clock moves the grid, never
	// lengthens a wait by more than a Lump) and a bucket at its cap at most about a Lump a
	// second of its rate. A request that finds a token and no guard leaves at once. Plan sets
	// PlanLump; apply leaves it 0 (burst 1, each request as soon as it may).
	Lump time.Duration
	// SharedBuckets (SharedBuckets') maps "cloud/account" to the account name whose
	// buckets the account's requests take their tokens from; an account it does not name
	// has buckets of its own.
	SharedBuckets map[string]string
}

// PlanLump is plan's Lump. Plan's one read per MongoDB instance (its kernel version) goes
// out at the cap of DescribeDBInstanceAttribute, one request every few milliseconds at
// 100,000 instances; sent one by one, each request also paid a wakeup of the idle process
// (about 0.25 ms of CPU, a third of plan's CPU at that size). 50 ms lumps send about ten
// at once and add about a lump a second (5%) to the wall time of a bucket at its cap.
const PlanLump = 50 * time.Millisecond

type bucketKey struct{ account, action string }

type bucket struct {
	mu         sync.Mutex
	lim        *rate.Limiter
	configured float64
	current    float64
	lump       time.Duration // see LimiterOptions.Lump
	sleep      func(context.Context, time.Duration) error
	lastChange time.Time
	stats      BucketStats

	// window holds the last ⌊cap⌋ requests (one slot each, by sequence number): see
	// WindowGuard. minRTT is the fastest round trip the bucket has seen.
	window  []*sent
	seq     uint64
	minRTT  time.Duration
	samples int
	// meanRTT is a moving average of the round trips (weight 1/8 for the newest).
	meanRTT time.Duration
}

// floorSamples is how many round trips a bucket measures before it trusts their minimum as
// the floor of its latency; before, the guard counts the whole round trip as jitter.
const floorSamples = 16

// sent is one request's place in its bucket's window; done is closed once it was answered
// (or given up before it was sent: sentAt zero, or the send it waited behind; see passOn).
type sent struct {
	done   chan struct{}
	sentAt time.Time
	rtt    time.Duration
}

// WindowGuard is how long after the send of request n the request n+⌊cap⌋ of the same
// bucket may be sent, before the jitter margin. The clouds count accepted requests in a
// sliding second at the moment they stamp them, somewhere between our send and their
// answer, so the window at the server holds more than the cap only if request n was
// stamped later in its round trip than request n+⌊cap⌋ in its own by more than the gap
// between their sends exceeds a second. The guard therefore adds to the second the part of
// request n's round trip above the fastest round trip of the bucket (its jitter: the fixed
// part of a round trip delays every stamp alike), plus 2 ms for timer granularity. A
// constant latency, however long, costs nothing (the rate stays cap·(1−SafetyMargin)); a
// jittered one costs, on a bucket running at its cap, the jitter of the requests it waits
// behind, never the whole round trip (until the bucket has measured floorSamples round
// trips, the guard counts the whole round trip, as if from the answer). A request not answered within a second still holds
// back request n+⌊cap⌋ until it is.
const WindowGuard = time.Second + 2*time.Millisecond

// NewLimiter builds the buckets' rates from the registry's documented caps (DefaultQPS where a
// cap is not documented) and settings.QPS overrides.
func NewLimiter(reg provider.Registry, settings planner.Settings, opts LimiterOptions) *Limiter {
	l := &Limiter{
		rates:    map[string]float64{},
		mutating: map[string]bool{},
		retry:    opts.Retry.withDefaults(),
		lump:     opts.Lump,
		sleep:    sleep,
		buckets:  map[bucketKey]*bucket{},
		shared:   opts.SharedBuckets,
	}
	for kind, spec := range reg {
		for _, a := range spec.Actions {
			key := kind + "/" + a.Name
			if a.QPS > 0 {
				l.rates[key] = a.QPS
			}
			l.mutating[key] = a.Mutating
		}
	}
	for key, q := range settings.QPS {
		if q > 0 {
			l.rates[key] = q
		}
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	l.rnd = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return l
}

// Rate returns the configured rate of "kind/Action".
func (l *Limiter) Rate(action string) float64 {
	if q, ok := l.rates[action]; ok {
		return q
	}
	return DefaultQPS
}

func (l *Limiter) bucket(req provider.Request) *bucket {
	account := req.Account
	if len(l.shared) > 0 {
		cloud, _, _ := strings.Cut(req.Kind, ".")
		if name, ok := l.shared[cloud+"/"+account]; ok {
			account = name // one account at the cloud under two names: one set of caps
		}
	}
	key := bucketKey{account, req.Kind + "/" + req.Action}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		q := l.Rate(key.action)
		burst := 1
		if l.lump > 0 {
			burst = int(math.Ceil(q*(1-SafetyMargin)*l.lump.Seconds())) + 1
		}
		b = &bucket{
			window:     make([]*sent, max(1, int(q))),
			lim:        rate.NewLimiter(rate.Limit(q*(1-SafetyMargin)), burst),
			sleep:      l.sleep,
			configured: q,
			current:    q,
			lump:       l.lump,
			stats: BucketStats{
				Account: key.account, Action: key.action, Rate: q, MinRate: q,
				Mutating: req.Mutating || l.mutating[key.action],
			},
		}
		l.buckets[key] = b
	}
	return b
}

type pollKey struct{}

// asPoll marks requests made under ctx as completion polls for the bucket counts.
func asPoll(ctx context.Context) context.Context { return context.WithValue(ctx, pollKey{}, true) }

func isPoll(ctx context.Context) bool { v, _ := ctx.Value(pollKey{}).(bool); return v }

// take waits for the bucket's window and token and counts the call. The caller must call
// sending right before the request leaves (not for a request given up before it) and the
// returned answered when it was answered (or failed or given up).
func (b *bucket) take(ctx context.Context) (mine *sent, err error) {
	b.mu.Lock()
	slot := int(b.seq % uint64(len(b.window)))
	b.seq++
	before := b.window[slot]
	mine = &sent{done: make(chan struct{})}
	b.window[slot] = mine
	b.mu.Unlock()
	if before != nil {
		select {
		case <-before.done:
		case <-ctx.Done():
			b.passOn(mine, before)
			return nil, ctx.Err()
		}
		if !before.sentAt.IsZero() {
			b.mu.Lock()
			jitter := before.rtt // until the floor is known, the whole round trip
			if b.samples >= floorSamples {
				jitter = max(0, before.rtt-b.minRTT)
			}
			b.mu.Unlock()
			wait := time.Until(before.sentAt.Add(WindowGuard + jitter))
			if wait > 0 {
				wait = b.toLump(wait)
			}
			if err := b.sleep(ctx, wait); err != nil {
				b.passOn(mine, before)
				return nil, err
			}
		}
	}
	b.mu.Lock()
	now := time.Now()
	if b.current < b.configured && now.Sub(b.lastChange) >= time.Second {
		b.current = min(b.configured, b.current+b.configured/8)
		b.lastChange = now
		b.lim.SetLimitAt(now, rate.Limit(b.current*(1-SafetyMargin)))
	}
	b.mu.Unlock()
	if b.lump == 0 {
		if err := b.lim.Wait(ctx); err != nil {
			b.answered(mine)
			return nil, err
		}
	} else {
		// A request without a token sleeps once, to the first lump after its token, so
		// that the requests waiting in every bucket wake and leave together; one that
		// finds a token leaves at once, the process being awake for it already (woken
		// on a lump by the guard, or by the answer that freed its worker).
		now := time.Now()
		r := b.lim.ReserveN(now, 1) // always ok: burst ≥ 1 and the rate > 0
		wait := r.DelayFrom(now)
		if wait > 0 {
			wait = b.toLump(wait)
		}
		if err := b.sleep(ctx, wait); err != nil {
			r.Cancel()
			b.answered(mine)
			return nil, err
		}
	}
	b.mu.Lock()
	b.stats.Calls++
	if isPoll(ctx) {
		b.stats.Polls++
	}
	b.mu.Unlock()
	return mine, nil
}

// toLump returns wait rounded up so that it ends on the next multiple of the bucket's
// lump on the wall clock (wait itself without a lump). The rounding is taken from one
// reading of the clock and the sleep runs on the monotonic clock, so a step of the wall
// clock shifts the grid but never lengthens a sleep by more than a lump.
func (b *bucket) toLump(wait time.Duration) time.Duration {
	if b.lump <= 0 {
		return wait
	}
	end := time.Now().Add(wait)
	if r := end.Sub(end.Truncate(b.lump)); r > 0 {
		wait += b.lump - r
	}
	return wait
}

// passOn closes the window place of a request given up before the window let it go, once
// before (the request ⌊cap⌋ earlier) was answered, handing on before's send: the next
// request of the place is then held back by before, as this one was. Closed at once as
// unsent, it would let that request leave a second after nothing, while before may have
// been stamped at the server a moment ago. A request given up after the window let it go
// (waiting for its token) closes its place as unsent (answered): the window had already
// waited for before, so the next request of the place leaves later still.
func (b *bucket) passOn(mine, before *sent) {
	go func() {
		<-before.done
		mine.sentAt, mine.rtt = before.sentAt, before.rtt
		close(mine.done)
	}()
}

// answered closes the request's window place, noting its round trip if it was sent.
func (b *bucket) answered(m *sent) {
	if !m.sentAt.IsZero() {
		m.rtt = time.Since(m.sentAt)
		b.mu.Lock()
		if b.samples == 0 || m.rtt < b.minRTT {
			b.minRTT = m.rtt
		}
		if b.samples == 0 {
			b.meanRTT = m.rtt
		} else {
			b.meanRTT += (m.rtt - b.meanRTT) / 8
		}
		b.samples++
		b.mu.Unlock()
	}
	close(m.done)
}

func (b *bucket) throttled() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.stats.Throttles++
	b.current = max(b.current/2, b.configured/32)
	b.lastChange = now
	b.stats.MinRate = min(b.stats.MinRate, b.current)
	b.lim.SetLimitAt(now, rate.Limit(b.current*(1-SafetyMargin)))
}

// sendGuard, carried by the context of a step's mutating call, keeps the executor's
// promises at the very moment of sending: the wait for a token (and a throttle backoff)
// ends when the run stops, and before every send of the call, before runs: it refuses
// (a *notSentError: nothing is sent) once the run stopped or the window closed, and
// journals the call's intent first, so no call leaves without its intent on disk.
type sendGuard struct {
	stop   context.Context // done once the run stops starting steps
	before func() error
}

type sendGuardKey struct{}

func withSendGuard(ctx context.Context, g *sendGuard) context.Context {
	return context.WithValue(ctx, sendGuardKey{}, g)
}

// errStoppedWaiting is why a call the stop caught waiting for its token was not sent.
const errStoppedWaiting = "the call was waiting for its rate-limit token and was not sent"

// notSentError says a mutating call was not sent, and why. rejudge: the look taken right
// before the call showed p (or failed with err), not an instance ready for it.
type notSentError struct {
	why     string
	rejudge bool
	p       provider.Progress
	err     error
}

func (e *notSentError) Error() string { return "not sent: " + e.why }

// Do implements provider.Doer.
func (l *Limiter) Do(ctx context.Context, req provider.Request, send func(context.Context) error) error {
	b := l.bucket(req)
	g, _ := ctx.Value(sendGuardKey{}).(*sendGuard)
	if !req.Mutating {
		g = nil
	}
	// wait is ctx, ended also by the run's stop for a guarded call: waits, never sends.
	wait := ctx
	if g != nil {
		w, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(g.stop, cancel)()
		wait = w
	}
	stopped := func(err error) error {
		if g != nil && ctx.Err() == nil && g.stop.Err() != nil {
			return &notSentError{why: errStoppedWaiting}
		}
		return err
	}
	for attempt := 0; ; attempt++ {
		mine, err := b.take(wait)
		if err != nil {
			return stopped(err)
		}
		if g != nil {
			if err := g.before(); err != nil {
				b.answered(mine)
				return err
			}
		}
		mine.sentAt = time.Now()
		err = send(ctx)
		b.answered(mine)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		class := provider.ClassOf(err)
		if class == provider.ClassThrottled {
			b.throttled()
			l.throttles.Add(1)
		}
		retry := class == provider.ClassThrottled ||
			(!req.Mutating && (class == provider.ClassRetryable || class == provider.ClassUnknown))
		if !retry || attempt+1 >= l.retry.Attempts {
			return err
		}
		if err := sleep(wait, l.Backoff(attempt)); err != nil {
			return stopped(err)
		}
	}
}

// Backoff returns a full-jitter sleep before retry number attempt+1:
// rand(0, min(Cap, Base·2^attempt)).
func (l *Limiter) Backoff(attempt int) time.Duration {
	ceil := l.retry.Cap
	if attempt < 30 {
		if d := l.retry.Base << attempt; d > 0 && d < ceil {
			ceil = d
		}
	}
	l.randMu.Lock()
	defer l.randMu.Unlock()
	return time.Duration(l.rnd.Int64N(int64(ceil) + 1))
}

// CurrentRate returns the rate requests of (account, "kind/Action") are sent at now: the
// configured rate less the safety margin, lowered while the bucket recovers from throttling.
func (l *Limiter) CurrentRate(account, action string) float64 {
	l.mu.Lock()
	b, ok := l.buckets[bucketKey{account, action}]
	l.mu.Unlock()
	if !ok {
		return l.Rate(action) * (1 - SafetyMargin)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.current * (1 - SafetyMargin)
}

// MeanRTT returns the moving average of the round trips of (account, "kind/Action"), 0
// before its first answer.
func (l *Limiter) MeanRTT(account, action string) time.Duration {
	l.mu.Lock()
	b, ok := l.buckets[bucketKey{account, action}]
	l.mu.Unlock()
	if !ok {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.meanRTT
}

// Throttles returns the throttling answers seen so far, all buckets together.
func (l *Limiter) Throttles() int { return int(l.throttles.Load()) }

// Stats returns every bucket's counts, sorted by account and action.
func (l *Limiter) Stats() []BucketStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]BucketStats, 0, len(l.buckets))
	for _, b := range l.buckets {
		b.mu.Lock()
		out = append(out, b.stats)
		b.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Account != out[j].Account {
			return out[i].Account < out[j].Account
		}
		return out[i].Action < out[j].Action
	})
	return out
}

var _ provider.Doer = (*Limiter)(nil)

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

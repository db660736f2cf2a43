package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// DefaultStopTimeout is how long, after the first signal, apply keeps following steps in
// flight while every poll of them fails, before it records them in doubt (exit 3; a resume
// reconciles them).
const DefaultStopTimeout = 3 * time.Minute

// Apply runs plan's steps and returns the run record (also written to Out/run.json). The
// record's Outcome.ExitCode is the apply's exit code; an error means the apply was refused
// (ErrRefused, exit 4), locked out (*LockedError, exit 5) or could not attempt anything
// (exit 1): see ExitCode.
//
// ctx is the "stop" signal: once it is done no new step starts, steps in flight are followed
// (for at most Options.StopTimeout while their polls fail), and the record says the run
// stopped (exit 3). Options.Hard abandons the steps in flight too.
func Apply(ctx context.Context, plan *planner.Plan, opts Options) (*Record, error) {
	if err := CheckPlan(plan, opts.ExpectDigest); err != nil {
		return refusedRecord(plan, opts, err), err
	}
	if opts.DryRun && opts.Resume {
		return nil, fmt.Errorf("%w: --dry-run cannot resume a run", ErrNothingAttempted)
	}
	if opts.Window != nil {
		// Whether Out holds a run to continue is known once it is locked (applyLocked).
		if !opts.Window.End.After(opts.Window.Start) {
			return nil, fmt.Errorf("%w: the window's end %s is not after its start %s", ErrNothingAttempted,
				opts.Window.End.Format(time.RFC3339), opts.Window.Start.Format(time.RFC3339))
		}
	}
	state := opts.State
	if state == nil {
		lockDir, legacy := opts.LockDir, []string(nil)
		if lockDir == "" {
			lockDir, legacy = LockDir(opts.Getenv), LegacyLockDirs(opts.Getenv)
		}
		state = DirState{LockDir: lockDir, Legacy: legacy}
	}
	st, err := state.Open(ctx, plan.Digest, opts.Out)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if opts.Resume && !st.Existed() {
		st.Discard(ctx)
		return nil, fmt.Errorf("%w: %s holds no journal to resume", ErrNothingAttempted, st.Where())
	}
	if !opts.DryRun {
		if err := st.CheckApplied(ctx); err != nil {
			if !st.Existed() {
				st.Discard(ctx) // the run directory this refused apply made, its lock in it
			}
			return refusedRecord(plan, opts, err), err
		}
	}
	rec, err := applyLocked(ctx, plan, opts, st)
	if err == nil && rec != nil && opts.Finish != nil {
		// Still under the locks (released by the deferred Close above).
		err = opts.Finish(rec)
	}
	if !opts.Resume && rec == nil && errors.Is(err, ErrNothingAttempted) && !st.Existed() {
		// Nothing was attempted: leave no run behind, so the same command can run again.
		st.Discard(ctx)
	}
	return rec, err
}

func applyLocked(ctx context.Context, plan *planner.Plan, opts Options, st RunState) (*Record, error) {
	entries, err := st.ReadJournal(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNothingAttempted, err)
	}
	if opts.Resume && len(entries) == 0 {
		return nil, fmt.Errorf("%w: %s holds no journal to resume", ErrNothingAttempted, st.Where())
	}
	for _, e := range entries {
		if e.Type == EntryBegin && e.Digest != plan.Digest {
			err := fmt.Errorf("%w: the run in %s applied plan %s, not this plan file (%s); only the very plan file a run began with continues it", ErrRefused, st.Where(), e.Digest, plan.Digest)
			return refusedRecord(plan, opts, err), err
		}
		if e.Type == EntryBegin && e.DryRun {
			return nil, fmt.Errorf("%w: the run in %s was a dry run; start a new run instead of resuming it", ErrNothingAttempted, st.Where())
		}
	}
	if opts.DryRun && len(entries) > 0 {
		return nil, fmt.Errorf("%w: %s already holds a run; a dry run needs a run directory of its own", ErrNothingAttempted, st.Where())
	}
	if !opts.Resume && len(entries) > 0 {
		// Start or continue: the directory holds a run of this very plan, so this is its
		// next segment.
		opts.Resume = true
	}
	if opts.Window != nil && !opts.Resume {
		return nil, fmt.Errorf("%w: a window override is for continuing a stopped run, and %s holds none; a new run keeps the reviewed plan's window", ErrNothingAttempted, st.Where())
	}
	if !opts.DryRun && !opts.Resume {
		if err := st.Claim(ctx); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNothingAttempted, err)
		}
	}
	r, err := newRun(plan, opts, st, entries)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNothingAttempted, err)
	}
	if opts.OnStart != nil {
		opts.OnStart() // past every refusal: the run is this apply's
	}
	return r.execute(ctx)
}

// write appends e to the journal (durable when it returns).
func (r *run) write(e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if r.opts.journalFault != nil {
		if err := r.opts.journalFault(e); err != nil {
			return fmt.Errorf("journal: write %s: %w", r.state.Where(), err)
		}
	}
	return r.state.Append(context.Background(), e)
}

// run is one apply segment.
type run struct {
	plan    *planner.Plan
	opts    Options
	rec     *Record
	limiter *Limiter
	state   RunState
	budget  int
	timeout time.Duration
	// stopTimeout bounds, after the stop, how long steps in flight are followed while their
	// polls fail.
	stopTimeout time.Duration

	steps    []*stepState
	barriers []*barrier
	// work is the steps' context; stepsRunning counts their goroutines.
	work         context.Context
	stepsRunning sync.WaitGroup
	admission    *admission
	observers    map[groupKey]*observer
	provs        map[groupKey]provider.Provider

	global    *slots
	targetSem map[string]*slots
	// gates admit, per bucket of mutating calls, only as many steps as the bucket sends in
	// about a second to take a global slot, so that steps waiting for a slow bucket's tokens
	// do not hold the slots other buckets' steps need.
	gates map[string]*slots

	// ready counts, per bucket of mutating calls, the steps whose dependencies are met and
	// whose call has not been answered yet; estimates holds completion times per kind/action.
	ready     map[string]*atomic.Int64
	estimates map[string]*estimate
	// buckets lists the steps' buckets of mutating calls; stepState.bi indexes it (ETA).
	buckets []etaBucket
	tally   tally
	// ownSteps counts the steps this runner runs (all but other shards').
	ownSteps int
	// unsentNow mirrors every bucket's unsent count for the slots (read without run.mu);
	// bucketRate is its configured rate, bucketShortest its product's ShortestOperation in
	// seconds (slotScore).
	unsentNow      []atomic.Int64
	acceptedNow    []atomic.Int64 // every bucket's accepted count, and its last call's Since in ns (slack.go)
	lastSinceNow   []atomic.Int64
	bucketRate     []float64
	bucketShortest []float64
	bucketReadRate []float64 // ReadPerWatch kinds: their reads' cap (slack.go)

	segment  Segment
	prior    []BucketStats
	eventMu  sync.Mutex
	mu       sync.Mutex // guards the steps' machines and records, failures, stop fields
	failures int
	observed observedValues // guarded by mu

	stopOnce sync.Once
	stopCh   chan struct{}
	// stopCtx is done once the run stops: it ends waits for rate-limit tokens.
	stopCtx    context.Context
	stopCancel context.CancelFunc
	stopWhy    string
	stopAt     time.Time
	hard       bool
	journalErr error
}

type depKind int

const (
	depStep depKind = iota
	depTarget
	depWave
)

type dep struct {
	s    *stepState
	kind depKind
}

// stepState is one step in this run: its plan entry, scheduling links, and its machine.
type stepState struct {
	step *planner.Step
	rec  *StepRecord
	done chan struct{}
	deps []dep
	// waits are the barriers (waves, target dependsOn) the step waits for; member is the
	// barrier of its own wave.
	waits  []waitOn
	member *barrier
	// dependents are the steps whose dependsOn names this one; blockers (guarded by run.mu)
	// counts the deps and waits not finished: the step's goroutine starts at zero.
	dependents []*stepState
	blockers   int
	prev       *stepState // the step before this one on the same instance
	next       *stepState // the step chained after this one on the same instance
	group      groupKey
	spec       *provider.Spec // shared by the steps of a kind
	cfg        machineConfig
	// bucket is the (account, kind/action) of the step's mutating call.
	bucket string
	bi     int // index in run.buckets
	pos    int // index in the plan's steps

	// Guarded by run.mu:
	m machine
	// preJudged is a verdict from an observation the step did not ask for (the refresh, or
	// the poll that showed its predecessor done); used only if the step reaches its call
	// without waiting for anything in between.
	preJudged *judged
	readyHeld bool // counted in run.ready
	gateHeld  bool // holds a place in its bucket's gate
	slotHeld  bool // holds its global (and target) slot
	intent    *Entry
	rank      float64    // remaining chain from this step, seconds (rankSteps)
	after     float64    // rate-limited work of the targets waiting for this one, seconds (rankAfter)
	counted   countClass // what the step adds to run.tally and its bucket's counts
	admitted  bool       // guarded by admission.mu: holds an admission
	// Driver goroutine only:
	lastOK time.Time // the last observation that answered about the step
	lease  func()    // releases the step's instance lease
	// foreign: the step is another shard's (Options.Shard); followForeign ends it.
	foreign bool
	// judgedNs is when the observation the step was last judged on was made (unix ns;
	// written by the driver, read by its group's poller: see judgedAt).
	judgedNs atomic.Int64
	// tokenWait: the step's call waits for its rate-limit token (before its intent is
	// written); sendVerdict (guarded by run.mu) is what a poll of its group showed
	// meanwhile, which the send guard takes instead of a look of its own.
	tokenWait   atomic.Bool
	sendVerdict *judged
}

func newRun(plan *planner.Plan, opts Options, st RunState, entries []Entry) (*run, error) {
	now := time.Now().UTC()
	host, _ := os.Hostname()
	budget, err := BudgetOf(plan.Settings.MaxFailures, len(plan.Steps))
	if err != nil {
		return nil, err
	}
	par := plan.Settings.Parallelism
	if opts.Parallelism > 0 {
		par = opts.Parallelism
	}
	if par <= 0 {
		par = 10
	}
	timeout := time.Duration(plan.Settings.StepTimeout)
	if timeout <= 0 {
		timeout = 2 * time.Hour
	}
	stopTimeout := opts.StopTimeout
	if stopTimeout <= 0 {
		stopTimeout = DefaultStopTimeout
	}
	r := &run{
		plan:        plan,
		opts:        opts,
		state:       st,
		budget:      budget,
		timeout:     timeout,
		stopTimeout: stopTimeout,
		limiter: NewLimiter(opts.Registry, plan.Settings, LimiterOptions{Retry: opts.Retry, Seed: opts.Seed,
			SharedBuckets: SharedBuckets(plan.Accounts, opts.Getenv)}),
		observers: map[groupKey]*observer{},
		provs:     map[groupKey]provider.Provider{},

		targetSem: map[string]*slots{},
		ready:     map[string]*atomic.Int64{},
		gates:     map[string]*slots{},
		estimates: map[string]*estimate{},
		stopCh:    make(chan struct{}),
		segment:   Segment{StartedAt: now, Resumed: opts.Resume, PID: os.Getpid(), Host: host, Window: windowOverride(plan, opts)},
	}
	r.stopCtx, r.stopCancel = context.WithCancel(context.Background())
	r.global = newSlots(par, r.slotScore)
	r.admission = &admission{limit: admitLimit(par), start: r.goStep, queue: classQueue{score: r.slotScore}}
	r.rec = &Record{
		Schema:    RecordSchema,
		Tool:      opts.ToolVersion,
		Plan:      planRef(plan, opts),
		DryRun:    opts.DryRun,
		StartedAt: now,
		Settings:  plan.Settings,
		Counts:    map[Status]int{},
		Steps:     make([]StepRecord, len(plan.Steps)),
	}
	if err := r.buildSteps(); err != nil {
		return nil, err
	}
	if len(r.targetSem) == 0 { // a target's maxConcurrent would hold its bucket's admitted steps
		r.admission.perClass, r.admission.inClass = make([]int, len(r.bucketRate)), make([]int, len(r.bucketRate))
		for i, rate := range r.bucketRate {
			r.admission.perClass[i] = bucketAdmits(rate, par)
		}
	}
	if err := r.markForeign(); err != nil {
		return nil, err
	}
	r.restore(entries)
	for _, s := range r.steps {
		r.recount(s)
	}
	return r, nil
}

// grace is the visibility grace of kind: the operator's override, else the product's.
func (r *run) grace(spec provider.Spec) time.Duration {
	if d, ok := r.opts.VisibilityGrace[spec.Kind]; ok && d > 0 {
		return d
	}
	if d, ok := r.opts.VisibilityGrace[""]; ok && d > 0 {
		return d
	}
	if spec.VisibilityGrace > 0 {
		return spec.VisibilityGrace
	}
	return provider.DefaultVisibilityGrace
}

// pollInterval is the plan's settings.pollInterval, 15 s when it names none.
func (r *run) pollInterval() time.Duration {
	if d := time.Duration(r.plan.Settings.PollInterval); d > 0 {
		return d
	}
	return 15 * time.Second
}

// maxWatchGap is machineConfig.MaxGap: a change's busy spell lasts at least the product's
// shortest operation, so looks closer together than that cannot miss one. For a restart in
// place the polling cadence is the operator's own bound on how long a spell may go unseen
// too: the shorter of the two (the cadence taken twice, for poll latency).
func (r *run) maxWatchGap(spec provider.Spec, inPlace bool) time.Duration {
	gap := r.shortestOperation(spec)
	if p := 2 * r.pollInterval(); inPlace && p < gap {
		gap = p
	}
	return gap
}

// shortestOperation is the product's shortest operation, or its override.
func (r *run) shortestOperation(spec provider.Spec) time.Duration {
	for _, k := range []string{spec.Kind, ""} {
		if d, ok := r.opts.ShortestOperation[k]; ok && d > 0 {
			return d
		}
	}
	if spec.ShortestOperation > 0 {
		return spec.ShortestOperation
	}
	return provider.DefaultShortestOperation
}

func (r *run) execute(ctx context.Context) (*Record, error) {
	if err := r.write(Entry{Type: EntryBegin, Time: r.segment.StartedAt, Digest: r.plan.Digest,
		PID: r.segment.PID, Host: r.segment.Host, Resumed: r.opts.Resume, DryRun: r.opts.DryRun, Window: r.segment.Window}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNothingAttempted, err)
	}
	defer r.stopCancel()
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	go func() {
		select {
		case <-r.opts.Hard:
			r.mu.Lock()
			r.hard = true
			r.mu.Unlock()
			r.stop(r.hardWhy() + ": exited without waiting for the steps in flight")
			cancelWork()
		case <-work.Done():
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			why := "interrupted"
			if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
				why = c.Error()
			}
			r.stop(why + ": no new steps started")
		case <-work.Done():
		}
	}()
	if w := r.window(); w != nil {
		closeAt := w.End.Add(-time.Duration(w.Cutoff))
		t := time.AfterFunc(time.Until(closeAt), func() { r.stop(cutoffReason(w)) })
		defer t.Stop()
	}

	if err := r.open(); err != nil {
		return r.abort(err)
	}
	if err := r.refresh(work); err != nil {
		return r.abort(err)
	}
	r.writeRecord()

	var pollers sync.WaitGroup
	pollCtx, stopPollers := context.WithCancel(work)
	for _, o := range r.observers {
		pollers.Add(1)
		go func() { defer pollers.Done(); o.run(pollCtx) }()
	}
	// run.json is rewritten every recordEvery, or 20 times as long as the last write took
	// (a record of 100,000 steps costs a few hundred milliseconds), so that keeping it
	// current stays a small share of the run whatever its size.
	periodic := time.NewTimer(recordEvery)
	doneWriting := make(chan struct{})
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		for {
			select {
			case <-periodic.C:
				start := time.Now()
				r.writeRecord()
				periodic.Reset(max(recordEvery, 20*time.Since(start)))
			case <-doneWriting:
				return
			}
		}
	}()

	// A step's goroutine starts once its dependencies finished (stepDone), so steps waiting
	// for other targets and waves cost no goroutine.
	r.work = work
	var initial []*stepState
	r.mu.Lock()
	for _, s := range r.steps {
		if s.blockers == 0 {
			initial = append(initial, s)
		}
	}
	r.mu.Unlock()
	r.followForeign(work) // holds stepsRunning while this shard's steps wait for another's
	for _, s := range initial {
		r.startStep(s)
	}
	r.stepsRunning.Wait()
	periodic.Stop()
	close(doneWriting)
	// A periodic write still under way must not rename its older snapshot over the final
	// record that finish writes.
	writer.Wait()
	stopPollers()
	pollers.Wait()
	return r.finish()
}

// recordEvery is the shortest interval between two periodic writes of run.json.
const recordEvery = 10 * time.Second

// startStep queues a step whose dependencies finished for a goroutine (admission.go).
// Another shard's step is ended by followForeign instead.
func (r *run) startStep(s *stepState) {
	if s.foreign {
		return
	}
	r.stepsRunning.Add(1)
	r.admission.add(s)
}

// goStep runs an admitted step's goroutine.
func (r *run) goStep(s *stepState) {
	go func() {
		defer r.stepsRunning.Done()
		defer r.admission.done(s)
		r.runStep(r.work, s)
	}()
}

// open opens one provider and one observer per (kind, account, region).
func (r *run) open() error {
	for _, s := range r.steps {
		k := s.group
		if _, ok := r.provs[k]; ok || s.foreign {
			continue
		}
		acct := provider.Account{}
		if k.account != "" {
			a, ok := r.plan.Accounts[k.account]
			if !ok {
				return fmt.Errorf("step %s: account %q is not in the plan's accounts", s.step.ID, k.account)
			}
			acct = a
			acct.Name = k.account
		}
		p, err := r.opts.Registry.Open(k.kind, provider.Config{Region: k.region, Account: acct,
			Doer: r.limiter, Getenv: r.opts.Getenv, Timeout: r.opts.RequestTimeout})
		if err != nil {
			return fmt.Errorf("open %s: %w", k, err)
		}
		r.provs[k] = p
		r.observers[k] = newObserver(k, p, r.pollInterval())
		r.observers[k].riders = r.riders(k)
		r.observers[k].perWatch = s.spec.ReadPerWatch
	}
	return nil
}

func (s *stepState) watch(started bool) provider.Watch {
	w := provider.Watch{Instance: s.step.Instance, Action: s.step.Action, From: s.step.From, To: s.step.To, Started: started,
		MaySent: !started && s.m.MaySent}
	if started {
		w.Since = s.m.Since
		w.OrderID = s.rec.OrderID // lets a resumed run find a failed order the provider never saw
		w.OrderName = s.rec.OrderName
	}
	return w
}

// abort ends a segment that could not attempt anything.
func (r *run) abort(err error) (*Record, error) {
	r.write(Entry{Type: EntryEnd, Stop: "error: " + err.Error()})
	return nil, fmt.Errorf("%w: %w", ErrNothingAttempted, err)
}

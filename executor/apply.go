package executor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

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
	if opts.Out == "" {
		return nil, fmt.Errorf("%w: no run directory", ErrNothingAttempted)
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
	_, statErr := os.Stat(opts.Out)
	created := errors.Is(statErr, fs.ErrNotExist)
	_, journalErr := os.Stat(filepath.Join(opts.Out, JournalFile))
	hadRun := journalErr == nil
	if opts.Resume && created {
		return nil, fmt.Errorf("%w: %s holds no journal to resume", ErrNothingAttempted, opts.Out)
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, fmt.Errorf("%w: run directory: %w", ErrNothingAttempted, err)
	}
	lockDir := opts.LockDir
	if lockDir == "" {
		lockDir = LockDir(opts.Getenv)
	}
	locks, err := acquireRunLocks(lockDir, plan.Digest, opts.Out)
	if err != nil {
		if created {
			os.Remove(opts.Out)
		}
		return nil, err
	}
	defer locks.release()
	ledger := filepath.Join(lockDir, "plan-"+plan.Digest+".run")
	if !opts.DryRun {
		if err := checkLedger(ledger, plan, opts.Out); err != nil {
			return refusedRecord(plan, opts, err), err
		}
	}
	rec, err := applyLocked(ctx, plan, opts, ledger)
	if err == nil && rec != nil && opts.Finish != nil {
		// Still under the locks (released by the deferred release above).
		err = opts.Finish(rec)
	}
	if !opts.Resume && rec == nil && errors.Is(err, ErrNothingAttempted) && !hadRun {
		// Nothing was attempted: leave no run behind, so the same command can run again.
		os.Remove(filepath.Join(opts.Out, JournalFile))
		os.Remove(filepath.Join(opts.Out, RecordFile))
		if !opts.DryRun {
			os.Remove(ledger)
		}
		locks.release()
		os.Remove(filepath.Join(opts.Out, RunLockFile))
		if created {
			os.Remove(opts.Out)
		}
	}
	return rec, err
}

// checkLedger refuses a plan whose digest already has a run in another run directory: a
// plan is applied once (as Terraform refuses a stale saved plan), so a second run of the
// same plan file cannot repeat a step that is never a noop (Kafka's latestMinor). The
// ledger, PLAN-DIGEST.run in the lock directory, names the run directory of the digest's
// run; it is read and written under the digest's lock.
func checkLedger(ledger string, plan *planner.Plan, out string) error {
	b, err := os.ReadFile(ledger)
	if err != nil {
		return nil
	}
	prior := string(b)
	here, _ := filepath.Abs(out)
	if prior == here {
		return nil
	}
	if _, err := os.Stat(filepath.Join(prior, JournalFile)); err != nil {
		return nil // that run directory is gone: the plan was never applied from it
	}
	return fmt.Errorf("%w: plan %s was already applied in %s; a plan is applied once: continue that run with `upgradeplan apply PLAN --out %s`, or re-plan", ErrRefused, plan.Digest, prior, prior)
}

func applyLocked(ctx context.Context, plan *planner.Plan, opts Options, ledger string) (*Record, error) {
	entries, err := ReadJournal(opts.Out)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNothingAttempted, err)
	}
	if opts.Resume && len(entries) == 0 {
		return nil, fmt.Errorf("%w: %s holds no journal to resume", ErrNothingAttempted, opts.Out)
	}
	for _, e := range entries {
		if e.Type == EntryBegin && e.Digest != plan.Digest {
			err := fmt.Errorf("%w: the run in %s applied plan %s, not this plan file (%s); only the very plan file a run began with continues it", ErrRefused, opts.Out, e.Digest, plan.Digest)
			return refusedRecord(plan, opts, err), err
		}
		if e.Type == EntryBegin && e.DryRun {
			return nil, fmt.Errorf("%w: the run in %s was a dry run; start a new run instead of resuming it", ErrNothingAttempted, opts.Out)
		}
	}
	if opts.DryRun && len(entries) > 0 {
		return nil, fmt.Errorf("%w: %s already holds a run; a dry run needs a run directory of its own", ErrNothingAttempted, opts.Out)
	}
	if !opts.Resume && len(entries) > 0 {
		// Start or continue: the directory holds a run of this very plan, so this is its
		// next segment.
		opts.Resume = true
	}
	if opts.Window != nil && !opts.Resume {
		return nil, fmt.Errorf("%w: a window override is for continuing a stopped run, and %s holds none; a new run keeps the reviewed plan's window", ErrNothingAttempted, opts.Out)
	}
	if !opts.DryRun && !opts.Resume {
		here, _ := filepath.Abs(opts.Out)
		if err := writeFileAtomic(ledger, []byte(here)); err != nil {
			return nil, fmt.Errorf("%w: lock directory: %w", ErrNothingAttempted, err)
		}
	}
	r, err := newRun(plan, opts, entries)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNothingAttempted, err)
	}
	j, err := openJournal(opts.Out)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNothingAttempted, err)
	}
	j.fault = opts.journalFault
	defer j.close()
	r.journal = j
	return r.execute(ctx)
}

// run is one apply segment.
type run struct {
	plan    *planner.Plan
	opts    Options
	rec     *Record
	limiter *Limiter
	journal *journal
	budget  int
	timeout time.Duration
	// stopTimeout bounds, after the stop, how long steps in flight are followed while their
	// polls fail.
	stopTimeout time.Duration

	steps     []*stepState
	observers map[groupKey]*observer
	provs     map[groupKey]provider.Provider

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

	segment  Segment
	prior    []BucketStats
	eventMu  sync.Mutex
	mu       sync.Mutex // guards the steps' machines and records, failures, stop fields
	failures int

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
	step  *planner.Step
	rec   *StepRecord
	done  chan struct{}
	deps  []dep
	prev  *stepState // the step before this one on the same instance
	next  *stepState // the step chained after this one on the same instance
	group groupKey
	spec  provider.Spec
	cfg   machineConfig
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
	// Driver goroutine only:
	lastOK time.Time // the last observation that answered about the step
	// judgedAt is when the observation the step was last judged on was made.
	judgedAt time.Time
}

func newRun(plan *planner.Plan, opts Options, entries []Entry) (*run, error) {
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
		budget:      budget,
		timeout:     timeout,
		stopTimeout: stopTimeout,
		limiter:     NewLimiter(opts.Registry, plan.Settings, LimiterOptions{Retry: opts.Retry, Seed: opts.Seed}),
		observers:   map[groupKey]*observer{},
		provs:       map[groupKey]provider.Provider{},
		global:      newSlots(par),
		targetSem:   map[string]*slots{},
		ready:       map[string]*atomic.Int64{},
		gates:       map[string]*slots{},
		estimates:   map[string]*estimate{},
		stopCh:      make(chan struct{}),
		segment:     Segment{StartedAt: now, Resumed: opts.Resume, PID: os.Getpid(), Host: host, Window: windowOverride(plan, opts)},
	}
	r.stopCtx, r.stopCancel = context.WithCancel(context.Background())
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
	r.restore(entries)
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
	if err := r.journal.write(Entry{Type: EntryBegin, Time: r.segment.StartedAt, Digest: r.plan.Digest,
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
			r.stop("second signal: exited without waiting for the steps in flight")
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
	periodic := time.NewTicker(10 * time.Second)
	doneWriting := make(chan struct{})
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		for {
			select {
			case <-periodic.C:
				r.writeRecord()
			case <-doneWriting:
				return
			}
		}
	}()

	var g errgroup.Group
	for _, s := range r.steps {
		g.Go(func() error { r.runStep(work, s); return nil })
	}
	g.Wait()
	periodic.Stop()
	close(doneWriting)
	// A periodic write still under way must not rename its older snapshot over the final
	// record that finish writes.
	writer.Wait()
	stopPollers()
	pollers.Wait()
	return r.finish()
}

// open opens one provider and one observer per (kind, account, region).
func (r *run) open() error {
	for _, s := range r.steps {
		k := s.group
		if _, ok := r.provs[k]; ok {
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
	}
	return nil
}

// refresh observes every step that can be judged now with one Observe per group. Its final
// verdicts (noop, drifted, failed) end steps at once; a "ready" verdict is kept only for a
// step that reaches its call without waiting for anything.
func (r *run) refresh(ctx context.Context) error {
	byGroup := map[groupKey][]*stepState{}
	var keys []groupKey
	for _, s := range r.steps {
		if s.m.Phase != PhasePending {
			continue
		}
		if s.prev != nil && s.prev.m.Phase != PhaseFinal {
			continue // judged when it is about to start, after its predecessor
		}
		if _, ok := byGroup[s.group]; !ok {
			keys = append(keys, s.group)
		}
		byGroup[s.group] = append(byGroup[s.group], s)
	}
	var g errgroup.Group
	for _, k := range keys {
		g.Go(func() error {
			ss := byGroup[k]
			ws := make([]provider.Watch, len(ss))
			for i, s := range ss {
				ws[i] = s.watch(false)
			}
			ps, err := observeSafely(ctx, r.provs[k], ws)
			if err == nil && len(ps) != len(ws) {
				err = fmt.Errorf("observe answered %d of %d watches", len(ps), len(ws))
			}
			if err != nil {
				return fmt.Errorf("refresh %s: %w", k, err)
			}
			for i, s := range ss {
				r.judgeAtRefresh(s, ps[i])
			}
			return nil
		})
	}
	return g.Wait()
}

func (r *run) judgeAtRefresh(s *stepState, p provider.Progress) {
	switch p.State {
	case provider.StatePending, provider.StateWaiting, provider.StateInProgress:
		if _, chainDone := provider.Matches(p.Observed, s.cfg.ChainTo); !chainDone || p.Observed == nil {
			r.mu.Lock()
			s.preJudged = &judged{p: p, at: time.Now()}
			if s.rec.Before == nil {
				s.rec.Before = p.Observed
				s.m.Before = p.Observed
			}
			r.mu.Unlock()
			return
		}
	}
	r.feed(s, input{Kind: inLook, P: p})
}

func (s *stepState) watch(started bool) provider.Watch {
	w := provider.Watch{Instance: s.step.Instance, Action: s.step.Action, From: s.step.From, To: s.step.To, Started: started}
	if started {
		w.Since = s.m.Since
		w.OrderID = s.rec.OrderID // lets a resumed run find a failed order the provider never saw
	}
	return w
}

// abort ends a segment that could not attempt anything.
func (r *run) abort(err error) (*Record, error) {
	r.journal.write(Entry{Type: EntryEnd, Stop: "error: " + err.Error()})
	return nil, fmt.Errorf("%w: %w", ErrNothingAttempted, err)
}

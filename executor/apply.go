package executor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// Apply runs plan's steps and returns the run record (also written to Out/run.json). The
// record's Outcome.ExitCode is the apply's exit code; an error means the apply was refused
// (ErrRefused, exit 4), locked out (*LockedError, exit 5) or could not attempt anything
// (exit 1): see ExitCode.
//
// ctx is the "stop" signal: once it is done no new step starts, steps in flight are followed
// to completion, and the record says the run stopped (exit 3). Options.Hard abandons the
// steps in flight too.
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
		if !opts.Resume {
			return nil, fmt.Errorf("%w: a window override is for resuming a stopped run; a new run keeps the reviewed plan's window", ErrNothingAttempted)
		}
		if !opts.Window.End.After(opts.Window.Start) {
			return nil, fmt.Errorf("%w: the window's end %s is not after its start %s", ErrNothingAttempted,
				opts.Window.End.Format(time.RFC3339), opts.Window.Start.Format(time.RFC3339))
		}
	}
	var lock *planLock
	if opts.PlanPath != "" {
		l, err := acquireLock(opts.PlanPath + ".lock")
		if err != nil {
			return nil, err
		}
		lock = l
		defer lock.release()
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, fmt.Errorf("%w: run directory: %w", ErrNothingAttempted, err)
	}
	entries, err := ReadJournal(opts.Out)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNothingAttempted, err)
	}
	switch {
	case opts.Resume && len(entries) == 0:
		return nil, fmt.Errorf("%w: %s holds no journal to resume", ErrNothingAttempted, opts.Out)
	case !opts.Resume && len(entries) > 0:
		return nil, fmt.Errorf("%w: %s already holds a run; continue it with --resume %s or choose another --out", ErrNothingAttempted, opts.Out, opts.Out)
	}
	for _, e := range entries {
		if e.Type == EntryBegin && e.Digest != plan.Digest {
			err := fmt.Errorf("%w: the run in %s applied plan %s, not this plan (%s)", ErrRefused, opts.Out, e.Digest, plan.Digest)
			return refusedRecord(plan, opts, err), err
		}
		if e.Type == EntryBegin && e.DryRun {
			return nil, fmt.Errorf("%w: the run in %s was a dry run; start a new run instead of resuming it", ErrNothingAttempted, opts.Out)
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
	defer j.close()
	r.journal = j
	rec, err := r.execute(ctx)
	if err == nil && rec != nil && opts.Finish != nil {
		// Still under the plan's lock (released by the deferred release above).
		err = opts.Finish(rec)
	}
	return rec, err
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

	segment   Segment
	prior     []BucketStats
	eventMu   sync.Mutex
	mu        sync.Mutex // guards rec.Steps, failures, stop fields
	failures  int
	stopOnce  sync.Once
	stopCh    chan struct{}
	stopWhy   string
	hard      bool
	attempted bool
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

type stepState struct {
	step  *planner.Step
	rec   *StepRecord
	done  chan struct{}
	deps  []dep
	prev  *stepState // the step before this one on the same instance
	group groupKey
	spec  provider.Spec
	// bucket is the (account, kind/action) of the step's mutating call.
	bucket string
	bi     int // index in run.buckets
	pos    int // index in the plan's steps
	// next is the step chained after this one on the same instance; preJudged is what the
	// Observe that saw prev done said about this step (guarded by run.mu).
	next      *stepState
	preJudged *provider.Progress
	readyHeld bool // counted in run.ready (guarded by run.mu)
	gateHeld  bool // holds a place in its bucket's gate (guarded by run.mu)
	sentOK    bool // the mutating call was accepted (guarded by run.mu)

	final    bool // final before this segment's scheduling (restored or refreshed)
	judged   bool // the refresh saw it pending: it may be sent without another look
	waiting  bool // the refresh saw the instance busy: wait until it is ready
	inDoubt  bool // an intent without a result in the journal: reconcile before sending
	accepted bool // a previous segment's call was accepted: follow it
	since    time.Time
}

func isFinal(st Status) bool {
	switch st {
	case StatusSucceeded, StatusFailed, StatusSkipped, StatusNoop, StatusDrifted:
		return true
	}
	return false
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
	r := &run{
		plan:      plan,
		opts:      opts,
		budget:    budget,
		timeout:   timeout,
		limiter:   NewLimiter(opts.Registry, plan.Settings, LimiterOptions{Retry: opts.Retry, Seed: opts.Seed}),
		observers: map[groupKey]*observer{},
		provs:     map[groupKey]provider.Provider{},
		global:    newSlots(par),
		targetSem: map[string]*slots{},
		ready:     map[string]*atomic.Int64{},
		gates:     map[string]*slots{},
		estimates: map[string]*estimate{},
		stopCh:    make(chan struct{}),
		segment:   Segment{StartedAt: now, Resumed: opts.Resume, PID: os.Getpid(), Host: host, Window: windowOverride(plan, opts)},
	}
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
	wakeOnWait := func(n int) {
		if n == 1 {
			r.pokeObservers()
		}
	}
	r.global.onWaiting = wakeOnWait
	targets := map[string]*planner.Target{}
	for i := range plan.Targets {
		t := &plan.Targets[i]
		targets[t.Name] = t
		if t.MaxConcurrent > 0 {
			r.targetSem[t.Name] = newSlots(t.MaxConcurrent)
			r.targetSem[t.Name].onWaiting = wakeOnWait
		}
	}
	byID := map[string]*stepState{}
	byTarget := map[string][]*stepState{}
	bucketIndex := map[string]int{}
	for i := range plan.Steps {
		st := &plan.Steps[i]
		if _, dup := byID[st.ID]; dup {
			return nil, fmt.Errorf("plan: step %s appears twice", st.ID)
		}
		spec, ok := opts.Registry[st.Kind]
		if !ok {
			return nil, fmt.Errorf("plan: step %s: unknown kind %q", st.ID, st.Kind)
		}
		r.rec.Steps[i] = StepRecord{
			ID: st.ID, Target: st.Target, Kind: st.Kind, Region: st.Region, Account: st.Account,
			Instance: st.Instance, Action: st.Action, Wave: st.Wave, DependsOn: st.DependsOn,
			Notes: st.Notes, Status: StatusPending, From: st.From, To: st.To,
		}
		if spec.IdempotencyToken {
			r.rec.Steps[i].ClientToken = ClientToken(plan, st.ID)
		}
		s := &stepState{step: st, rec: &r.rec.Steps[i], done: make(chan struct{}), spec: spec, pos: i,
			group: groupKey{st.Kind, st.Account, st.Region}, bucket: st.Account + "\x00" + st.Kind + "/" + st.Action}
		if r.ready[s.bucket] == nil {
			r.ready[s.bucket] = &atomic.Int64{}
			r.gates[s.bucket] = newSlots(max(1, int(math.Ceil(r.limiter.Rate(st.Kind+"/"+st.Action)))))
			bucketIndex[s.bucket] = len(r.buckets)
			r.buckets = append(r.buckets, etaBucket{account: st.Account, action: st.Kind + "/" + st.Action,
				est: nil})
		}
		s.bi = bucketIndex[s.bucket]
		if r.estimates[st.Kind+"/"+st.Action] == nil {
			r.estimates[st.Kind+"/"+st.Action] = &estimate{}
		}
		r.buckets[s.bi].est = r.estimates[st.Kind+"/"+st.Action]
		r.steps = append(r.steps, s)
		byID[st.ID] = s
		byTarget[st.Target] = append(byTarget[st.Target], s)
	}
	for _, s := range r.steps {
		seen := map[*stepState]bool{}
		add := func(d *stepState, k depKind) {
			if d != s && !seen[d] {
				seen[d] = true
				s.deps = append(s.deps, dep{d, k})
			}
		}
		for _, id := range s.step.DependsOn {
			d, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("plan: step %s depends on unknown step %s", s.step.ID, id)
			}
			add(d, depStep)
			if d.step.Instance == s.step.Instance && d.step.Kind == s.step.Kind && d.step.Region == s.step.Region {
				s.prev = d
				if d.next == nil {
					d.next = s
				}
			}
		}
		if t := targets[s.step.Target]; t != nil {
			for _, tn := range t.DependsOn {
				for _, d := range byTarget[tn] {
					add(d, depTarget)
				}
			}
		}
		for _, d := range byTarget[s.step.Target] {
			if d.step.Wave < s.step.Wave {
				add(d, depWave)
			}
		}
	}
	if cyc := findCycle(r.steps); cyc != "" {
		return nil, fmt.Errorf("plan: steps depend on each other in a cycle: %s", cyc)
	}
	r.restore(entries)
	return r, nil
}

// restore rebuilds the steps' state from a previous segment's journal.
func (r *run) restore(entries []Entry) {
	if len(entries) == 0 {
		return
	}
	byID := map[string]*stepState{}
	for _, s := range r.steps {
		byID[s.step.ID] = s
	}
	type trail struct {
		snap       *StepRecord
		attempts   int
		requestIDs []string
		orderID    string
		openIntent bool
		accepted   bool
		since      time.Time
	}
	trails := map[string]*trail{}
	get := func(id string) *trail {
		t, ok := trails[id]
		if !ok {
			t = &trail{}
			trails[id] = t
		}
		return t
	}
	var segs []Segment
	last := time.Time{}
	for _, e := range entries {
		last = e.Time
		switch e.Type {
		case EntryBegin:
			if len(segs) > 0 && segs[len(segs)-1].FinishedAt.IsZero() {
				segs[len(segs)-1].FinishedAt = last
				segs[len(segs)-1].Stop = "killed: the journal has no end record"
			}
			segs = append(segs, Segment{StartedAt: e.Time, Resumed: e.Resumed, PID: e.PID, Host: e.Host, Window: e.Window})
		case EntryEnd:
			if len(segs) > 0 {
				segs[len(segs)-1].FinishedAt = e.Time
				segs[len(segs)-1].Stop = e.Stop
			}
		case EntryIntent:
			t := get(e.StepID)
			t.attempts++
			t.openIntent = true
		case EntryResult:
			t := get(e.StepID)
			t.openIntent = false
			if e.RequestID != "" {
				t.requestIDs = append(t.requestIDs, e.RequestID)
			}
			if e.Error == nil {
				t.accepted = true
				t.since = e.Time
				if e.OrderID != "" {
					t.orderID = e.OrderID
				}
			}
		case EntryStep:
			if e.Step != nil {
				get(e.Step.ID).snap = e.Step
			}
		}
	}
	if n := len(segs); n > 0 && segs[n-1].FinishedAt.IsZero() {
		segs[n-1].FinishedAt = last
		segs[n-1].Stop = "killed: the journal has no end record"
	}
	r.rec.Segments = segs
	if len(segs) > 0 {
		r.rec.StartedAt = segs[0].StartedAt
	}
	if prev, err := ReadRecord(r.opts.Out); err == nil {
		r.prior = prev.Buckets
	}
	for id, t := range trails {
		s, ok := byID[id]
		if !ok {
			continue
		}
		if t.snap != nil {
			*s.rec = *t.snap
		}
		s.rec.Attempts = t.attempts
		s.rec.RequestIDs = t.requestIDs
		if t.orderID != "" {
			s.rec.OrderID = t.orderID
		}
		switch {
		case isFinal(s.rec.Status):
			s.final = true
		case t.openIntent:
			s.inDoubt = true
		case t.accepted:
			s.accepted = true
			s.since = t.since
		default:
			// pending, not-started, or cancelled before any call: run it afresh.
			s.rec.Status = StatusPending
			s.rec.Reason = ""
			s.rec.Error = nil
			s.rec.StartedAt, s.rec.FinishedAt, s.rec.DurationSeconds = nil, nil, 0
		}
		if !s.final && s.rec.Status != StatusPending {
			s.rec.Status = StatusPending
			s.rec.Reason = ""
		}
	}
}

func (r *run) execute(ctx context.Context) (*Record, error) {
	if err := r.journal.write(Entry{Type: EntryBegin, Time: r.segment.StartedAt, Digest: r.plan.Digest,
		PID: r.segment.PID, Host: r.segment.Host, Resumed: r.opts.Resume, DryRun: r.opts.DryRun, Window: r.segment.Window}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNothingAttempted, err)
	}
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
			r.stop(why + ": no new steps started; the steps in flight were followed to the end")
		case <-work.Done():
		}
	}()
	if w := r.window(); w != nil {
		closeAt := w.End.Add(-time.Duration(w.Cutoff))
		t := time.AfterFunc(time.Until(closeAt), func() {
			r.stop(fmt.Sprintf("window cutoff: no step starts after %s (window end %s minus cutoff %s)",
				closeAt.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339), time.Duration(w.Cutoff)))
		})
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
		interval := time.Duration(r.plan.Settings.PollInterval)
		if interval <= 0 {
			interval = 15 * time.Second
		}
		r.observers[k] = newObserver(k, p, interval)
	}
	return nil
}

// refresh observes every step that can be judged now with one Observe per group.
func (r *run) refresh(ctx context.Context) error {
	byGroup := map[groupKey][]*stepState{}
	var keys []groupKey
	for _, s := range r.steps {
		if s.final || s.inDoubt || s.accepted {
			continue
		}
		if s.prev != nil && !s.prev.final {
			continue // judged when it is about to start, from its predecessor's outcome
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

func (s *stepState) watch(started bool) provider.Watch {
	w := provider.Watch{Instance: s.step.Instance, Action: s.step.Action, From: s.step.From, To: s.step.To, Started: started}
	if started {
		w.Since = s.since
	}
	return w
}

func (r *run) judgeAtRefresh(s *stepState, p provider.Progress) {
	r.mu.Lock()
	s.rec.Before = p.Observed
	r.mu.Unlock()
	switch p.State {
	case provider.StateDone:
		r.end(s, StatusNoop, "already shows "+describe(s.step.To), nil, p.Observed)
		s.final = true
	case provider.StateDrifted, provider.StateMissing:
		r.end(s, StatusDrifted, orDefault(p.Message, "live state no longer matches the plan's from"), nil, nil)
		s.final = true
	case provider.StateFailed:
		r.end(s, StatusFailed, "", &StepError{Class: provider.ClassPermanent,
			Message: orDefault(p.Message, "the instance is in a failed state ("+p.Status+")")}, p.Observed)
		s.final = true
	case provider.StatePending:
		s.judged = true
	default: // waiting, or in progress for some other reason: wait until it is ready
		s.judged = true
		s.waiting = true
	}
}

// abort ends a segment that could not attempt anything.
func (r *run) abort(err error) (*Record, error) {
	r.journal.write(Entry{Type: EntryEnd, Stop: "error: " + err.Error()})
	return nil, fmt.Errorf("%w: %w", ErrNothingAttempted, err)
}

func (r *run) stop(why string) {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.stopWhy = why
		r.mu.Unlock()
		close(r.stopCh)
	})
}

func (r *run) stopped() (string, bool) {
	select {
	case <-r.stopCh:
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.stopWhy, true
	default:
		return "", false
	}
}

// runStep takes one step from waiting on its dependencies to a final status.
func (r *run) runStep(ctx context.Context, s *stepState) {
	defer close(s.done)
	if s.final {
		return
	}
	defer r.unready(s)
	for _, d := range s.deps {
		select {
		case <-d.s.done:
		case <-ctx.Done():
			r.end(s, StatusNotStarted, "the run ended before "+d.s.step.ID+" finished", nil, nil)
			return
		}
	}
	if st, why := r.depVerdict(s); st != "" {
		r.end(s, st, why, nil, nil)
		return
	}
	inFlight := s.accepted || s.inDoubt
	if !inFlight {
		if why, ok := r.stopped(); ok {
			r.end(s, StatusNotStarted, why, nil, nil)
			return
		}
		r.markReady(s)
	}
	if !r.acquire(ctx, s, inFlight) {
		why, _ := r.stopped()
		r.end(s, StatusNotStarted, orDefault(why, "the run ended"), nil, nil)
		return
	}
	defer r.release(s)

	switch {
	case s.accepted:
		r.setRunning(s, "following a call accepted before the previous run ended")
		r.follow(ctx, s)
		return
	case s.inDoubt:
		r.setRunning(s, "reconciling a call whose answer was not recorded")
		r.reconcileThenSend(ctx, s, 1)
		return
	}
	if !r.inWindow(ctx, s) {
		return
	}
	if !r.judge(ctx, s) {
		return
	}
	// judge may have waited for a busy instance past the cutoff, a signal or the budget.
	if why, ok := r.stopped(); ok {
		r.end(s, StatusNotStarted, why, nil, nil)
		return
	}
	if !r.inWindow(ctx, s) {
		return
	}
	r.setRunning(s, "")
	r.send(ctx, s, 1)
}

// depVerdict says whether a step can start after its dependencies finished.
func (r *run) depVerdict(s *stepState) (Status, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var notRun string
	for _, d := range s.deps {
		st := d.s.rec.Status
		what := d.s.step.ID
		switch d.kind {
		case depTarget:
			what = "target " + d.s.step.Target + " (step " + d.s.step.ID + ")"
		case depWave:
			what = fmt.Sprintf("wave %d of target %s (step %s)", d.s.step.Wave, d.s.step.Target, d.s.step.ID)
		}
		switch st {
		case StatusSucceeded, StatusNoop:
		case StatusFailed, StatusSkipped:
			return StatusSkipped, "depends on " + what + ", which " + pastTense(st)
		case StatusDrifted:
			// A drifted dependency was not applied: what this step was planned after did not
			// happen, so it is skipped like after a failure; re-plan to go on.
			return StatusSkipped, "depends on " + what + ", which drifted and was not applied"
		default:
			if notRun == "" {
				notRun = "depends on " + what + ", which did not run (" + string(st) + ")"
			}
		}
	}
	if notRun != "" {
		return StatusNotStarted, notRun
	}
	return "", ""
}

func pastTense(st Status) string {
	if st == StatusFailed {
		return "failed"
	}
	return "was skipped"
}

// acquire takes the step's target slot (maxConcurrent), a place in its bucket's gate (not
// for a step whose call was already sent) and a global slot (parallelism). All three hand
// free places out in plan order. The gate is given back once the call is answered (unready).
func (r *run) acquire(ctx context.Context, s *stepState, inFlight bool) bool {
	stop := r.stopCh
	if inFlight {
		stop = nil
	}
	index := s.index()
	if sem := r.targetSem[s.step.Target]; sem != nil {
		if !sem.acquire(ctx, index, stop) {
			return false
		}
	}
	if !inFlight {
		if !r.gates[s.bucket].acquire(ctx, index, stop) {
			r.releaseTarget(s)
			return false
		}
		r.mu.Lock()
		s.gateHeld = true
		r.mu.Unlock()
	}
	if !r.global.acquire(ctx, index, stop) {
		r.releaseGate(s)
		r.releaseTarget(s)
		return false
	}
	if _, ok := r.stopped(); ok && !inFlight {
		r.releaseGate(s)
		r.release(s)
		return false
	}
	return true
}

func (r *run) releaseGate(s *stepState) {
	r.mu.Lock()
	held := s.gateHeld
	s.gateHeld = false
	r.mu.Unlock()
	if held {
		r.gates[s.bucket].release()
	}
}

// index is the step's position in the plan.
func (s *stepState) index() int { return s.pos }

func (r *run) releaseTarget(s *stepState) {
	if sem := r.targetSem[s.step.Target]; sem != nil {
		sem.release()
	}
}

func (r *run) release(s *stepState) {
	r.global.release()
	r.releaseTarget(s)
}

// markReady counts a step whose dependencies are met in its bucket's ready steps.
func (r *run) markReady(s *stepState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !s.readyHeld {
		s.readyHeld = true
		r.ready[s.bucket].Add(1)
	}
}

// unready takes the step out of its bucket's ready steps (its call was answered, or it ended
// without one). When the bucket has no ready step left, its steps in flight are awaited: the
// pollers are told to look at their timing again.
func (r *run) unready(s *stepState) {
	r.releaseGate(s)
	r.mu.Lock()
	held := s.readyHeld
	s.readyHeld = false
	r.mu.Unlock()
	if held && r.ready[s.bucket].Add(-1) == 0 {
		r.pokeObservers()
	}
}

func (r *run) pokeObservers() {
	for _, o := range r.observers {
		o.poke()
	}
}

// awaited says whether something is held up until s is seen done: a step waiting for a
// parallelism slot (global, or its target's), or s's bucket having no other step ready to
// send, so that its rate is idle until s's successors can start.
func (r *run) awaited(s *stepState) bool {
	if r.global.waiting() > 0 || r.ready[s.bucket].Load() == 0 {
		return true
	}
	if sem := r.targetSem[s.step.Target]; sem != nil && sem.waiting() > 0 {
		return true
	}
	return false
}

// window is the change window of this segment: the operator's override, or the plan's.
func (r *run) window() *planner.Window {
	if r.segment.Window != nil {
		return r.segment.Window
	}
	return r.plan.Settings.Window
}

// windowOverride turns Options.Window into this segment's window, keeping the plan's cutoff.
func windowOverride(plan *planner.Plan, opts Options) *planner.Window {
	if opts.Window == nil {
		return nil
	}
	w := *opts.Window
	if plan.Settings.Window != nil && w.Cutoff == 0 {
		w.Cutoff = plan.Settings.Window.Cutoff
	}
	return &w
}

// inWindow waits for the window to open and refuses to start after end−cutoff.
func (r *run) inWindow(ctx context.Context, s *stepState) bool {
	w := r.window()
	if w == nil {
		return true
	}
	if d := time.Until(w.Start); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.stopCh:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
		}
	}
	if why, ok := r.stopped(); ok {
		r.end(s, StatusNotStarted, why, nil, nil)
		return false
	}
	if ctx.Err() != nil {
		r.end(s, StatusNotStarted, "the run ended", nil, nil)
		return false
	}
	closeAt := w.End.Add(-time.Duration(w.Cutoff))
	if !time.Now().Before(closeAt) {
		why := fmt.Sprintf("window cutoff: no step starts after %s (window end %s minus cutoff %s)",
			closeAt.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339), time.Duration(w.Cutoff))
		r.stop(why)
		r.end(s, StatusNotStarted, why, nil, nil)
		return false
	}
	return true
}

// judge looks at the instance right before the call when the refresh could not: a step
// chained after another on the same instance, or an instance that was busy. It waits (up to
// stepTimeout) for a busy instance to become ready. It reports whether to send.
func (r *run) judge(ctx context.Context, s *stepState) bool {
	if s.judged && !s.waiting {
		return true
	}
	r.mu.Lock()
	pre := s.preJudged
	s.preJudged = nil
	r.mu.Unlock()
	if pre != nil && pre.State == provider.StatePending {
		// The Observe that saw the step before it done saw this one ready to go.
		r.mu.Lock()
		if s.rec.Before == nil {
			s.rec.Before = pre.Observed
		}
		r.mu.Unlock()
		return true
	}
	deadline := time.Now().Add(r.timeout)
	urgent := true
	var lastErr error
	for {
		if why, ok := r.stopped(); ok {
			r.end(s, StatusNotStarted, why, nil, nil)
			return false
		}
		if !time.Now().Before(deadline) {
			msg := fmt.Sprintf("instance still busy after stepTimeout %s; the call was not sent", r.timeout)
			if lastErr != nil {
				msg = fmt.Sprintf("could not observe the instance within stepTimeout %s: %v", r.timeout, lastErr)
			}
			r.end(s, StatusFailed, "", &StepError{Class: provider.ClassPermanent, Code: "StepTimeout", Message: msg}, nil)
			return false
		}
		octx, cancel := context.WithDeadline(ctx, deadline)
		p, err := r.observers[s.group].observe(octx, s.watch(false), urgent)
		cancel()
		urgent = false
		if ctx.Err() != nil {
			r.end(s, StatusNotStarted, "the run ended before the step started", nil, nil)
			return false
		}
		if err != nil {
			if time.Now().Before(deadline) { // else stepTimeout ran out while waiting: not a read error
				lastErr = err
			}
			continue
		}
		r.mu.Lock()
		if s.rec.Before == nil {
			s.rec.Before = p.Observed
		}
		r.mu.Unlock()
		switch p.State {
		case provider.StatePending:
			return true
		case provider.StateDone:
			r.end(s, StatusNoop, "already shows "+describe(s.step.To), nil, p.Observed)
			return false
		case provider.StateDrifted, provider.StateMissing:
			r.end(s, StatusDrifted, orDefault(p.Message, "live state no longer matches the plan's from"), nil, nil)
			return false
		case provider.StateFailed:
			r.end(s, StatusFailed, "", &StepError{Class: provider.ClassPermanent,
				Message: orDefault(p.Message, "the instance is in a failed state ("+p.Status+")")}, p.Observed)
			return false
		default:
			lastErr = nil // busy: look again at the next poll
		}
	}
}

// send makes the step's mutating call: intent journaled, call, result journaled; retries
// after reconciling with live state.
func (r *run) send(ctx context.Context, s *stepState, attempt int) {
	prov := r.provs[s.group]
	call := provider.Call{Instance: s.step.Instance, Action: s.step.Action, Params: s.step.Params, ClientToken: s.rec.ClientToken}
	if r.opts.DryRun {
		if !s.spec.DryRun {
			r.end(s, StatusSucceeded, "dry run: not sent", nil, nil)
			return
		}
		call.DryRun = true
		_, err := applySafely(ctx, prov, call)
		if err != nil {
			r.end(s, StatusFailed, "dry run", stepError(err), nil)
			return
		}
		r.end(s, StatusSucceeded, "dry run: the API's own dry run accepted the call", nil, nil)
		return
	}
	maxAttempts := r.opts.Retry.withDefaults().Attempts
	for ; ; attempt++ {
		if err := r.journal.write(Entry{Type: EntryIntent, StepID: s.step.ID, Attempt: attempt, ClientToken: call.ClientToken, Params: call.Params}); err != nil {
			r.end(s, StatusFailed, "", &StepError{Class: provider.ClassPermanent, Message: "the call was not sent: " + err.Error()}, nil)
			return
		}
		r.mu.Lock()
		s.rec.Attempts++
		r.attempted = true
		r.mu.Unlock()
		receipt, err := applySafely(ctx, prov, call)
		r.unready(s)
		res := Entry{Type: EntryResult, StepID: s.step.ID, Attempt: attempt, RequestID: receipt.RequestID, OrderID: receipt.OrderID}
		if err != nil {
			res.Error = stepError(err)
			res.Class = res.Error.Class
			res.RequestID = res.Error.RequestID
		}
		jerr := r.journal.write(res)
		r.mu.Lock()
		if res.RequestID != "" {
			s.rec.RequestIDs = append(s.rec.RequestIDs, res.RequestID)
		}
		if receipt.OrderID != "" {
			s.rec.OrderID = receipt.OrderID
		}
		r.mu.Unlock()
		if err == nil {
			r.mu.Lock()
			s.since = time.Now()
			s.sentOK = true
			r.mu.Unlock()
			if jerr != nil {
				r.emit(s, StatusRunning, "accepted, but the journal could not record it: "+jerr.Error())
			}
			r.snapshot(s)
			r.follow(ctx, s)
			return
		}
		if ctx.Err() != nil {
			r.end(s, StatusCancelled, "the run was ended while the call was in flight; resume reconciles it", stepError(err), nil)
			return
		}
		class := provider.ClassOf(err)
		if class == provider.ClassPermanent {
			r.end(s, StatusFailed, "", stepError(err), nil)
			return
		}
		if attempt >= maxAttempts {
			r.end(s, StatusFailed, fmt.Sprintf("gave up after %d attempts", attempt), stepError(err), nil)
			return
		}
		if class == provider.ClassThrottled {
			// Still throttled after the Limiter's own retries; nothing happened: back off, resend.
			if sleep(ctx, r.limiter.Backoff(attempt)) != nil {
				r.end(s, StatusCancelled, "the run was ended while backing off", stepError(err), nil)
				return
			}
			continue
		}
		r.emit(s, StatusRunning, fmt.Sprintf("%s error on attempt %d; re-reading the instance before any resend: %v", class, attempt, err))
		r.reconcileThenSend(ctx, s, attempt+1)
		return
	}
}

// reconcileThenSend reads the instance of a call whose outcome is unknown: a call in
// progress or done is followed, never sent again; an untouched instance gets the call again
// (with the same ClientToken) unless the run is stopping.
func (r *run) reconcileThenSend(ctx context.Context, s *stepState, attempt int) {
	deadline := time.Now().Add(r.timeout)
	var lastErr error
	for first := true; ; first = false {
		if !first {
			if err := sleep(ctx, r.limiter.Backoff(attempt)); err != nil {
				r.end(s, StatusCancelled, "the run was ended while reconciling; resume reconciles it", nil, nil)
				return
			}
		}
		if !time.Now().Before(deadline) {
			r.end(s, StatusFailed, "", &StepError{Class: provider.ClassUnknown,
				Message: fmt.Sprintf("could not read the instance to reconcile an unanswered call: %v", lastErr)}, nil)
			return
		}
		p, err := r.observers[s.group].observe(ctx, s.watch(false), true)
		if ctx.Err() != nil {
			r.end(s, StatusCancelled, "the run was ended while reconciling; resume reconciles it", nil, nil)
			return
		}
		if err != nil {
			lastErr = err
			continue
		}
		switch p.State {
		case provider.StateDone:
			r.end(s, StatusSucceeded, "the unanswered call took effect", nil, p.Observed)
		case provider.StateWaiting, provider.StateInProgress:
			if s.since.IsZero() {
				s.since = time.Now()
			}
			r.emit(s, StatusRunning, "the unanswered call is in progress ("+p.Status+"); following it, not resending")
			r.follow(ctx, s)
		case provider.StatePending:
			if why, ok := r.stopped(); ok && s.rec.Attempts > 0 && s.inDoubt {
				r.end(s, StatusNotStarted, why+"; the earlier call had not taken effect", nil, nil)
				return
			}
			// A previous segment's call never took effect: resending it starts the change
			// now, so it keeps to this segment's window like any other start.
			if s.inDoubt && !r.inWindow(ctx, s) {
				return
			}
			s.inDoubt = false
			r.send(ctx, s, attempt)
		case provider.StateFailed:
			r.end(s, StatusFailed, "", &StepError{Class: provider.ClassPermanent, Message: orDefault(p.Message, "the instance is in a failed state ("+p.Status+")")}, p.Observed)
		default:
			r.end(s, StatusFailed, "", &StepError{Class: provider.ClassUnknown,
				Message: "after an unanswered call the instance shows neither from nor to: " + orDefault(p.Message, string(p.State))}, p.Observed)
		}
		return
	}
}

// follow polls a started step (batched with its group) until done, failed or stepTimeout.
func (r *run) follow(ctx context.Context, s *stepState) {
	if s.since.IsZero() {
		s.since = time.Now()
	}
	deadline := s.since.Add(r.timeout)
	var last provider.Progress
	var lastErr error
	for {
		octx, cancel := context.WithDeadline(ctx, deadline)
		r.mu.Lock()
		w := s.watch(true)
		w.OrderID = s.rec.OrderID // lets a resumed run find a failed order the provider never saw
		r.mu.Unlock()
		f := &followInfo{since: s.since, est: r.estimates[s.step.Kind+"/"+s.step.Action],
			awaited: func() bool { return r.awaited(s) }}
		if n := s.next; n != nil && !n.final && !n.judged {
			nw := n.watch(false)
			f.next = &nw
		}
		res, err := r.observers[s.group].followStep(octx, w, f)
		p := res.p
		cancel()
		if ctx.Err() != nil {
			r.end(s, StatusCancelled, "the run was ended while the step was in flight; resume follows it", nil, nil)
			return
		}
		if err == nil {
			last, lastErr = p, nil
			switch p.State {
			case provider.StateDone:
				f.est.add(time.Since(s.since))
				if res.next != nil {
					r.mu.Lock()
					s.next.preJudged = res.next
					r.mu.Unlock()
				}
				r.end(s, StatusSucceeded, "", nil, p.Observed)
				return
			case provider.StateFailed, provider.StateMissing, provider.StateDrifted:
				r.end(s, StatusFailed, "", &StepError{Class: provider.ClassPermanent,
					Message: orDefault(p.Message, "the product reports "+string(p.State)+" ("+p.Status+")")}, p.Observed)
				return
			}
		} else if !errors.Is(err, context.DeadlineExceeded) {
			lastErr = err
		}
		if !time.Now().Before(deadline) {
			msg := fmt.Sprintf("not complete after stepTimeout %s", r.timeout)
			if last.Status != "" {
				msg += "; last status " + last.Status
			}
			if lastErr != nil {
				msg += "; last error: " + lastErr.Error()
			}
			r.end(s, StatusFailed, "", &StepError{Class: provider.ClassPermanent, Code: "StepTimeout", Message: msg}, last.Observed)
			return
		}
	}
}

func (r *run) setRunning(s *stepState, msg string) {
	now := time.Now().UTC()
	r.mu.Lock()
	s.rec.Status = StatusRunning
	if s.rec.StartedAt == nil {
		s.rec.StartedAt = &now
	}
	r.mu.Unlock()
	r.snapshot(s)
	r.emit(s, StatusRunning, msg)
}

// end gives a step its final (or stopped) status, journals it and counts failures.
func (r *run) end(s *stepState, st Status, reason string, serr *StepError, after provider.Values) {
	now := time.Now().UTC()
	r.mu.Lock()
	s.rec.Status = st
	s.rec.Reason = reason
	if serr != nil {
		s.rec.Error = serr
	}
	if after != nil {
		s.rec.After = after
	}
	if s.rec.StartedAt != nil {
		s.rec.FinishedAt = &now
		s.rec.DurationSeconds = now.Sub(*s.rec.StartedAt).Seconds()
	}
	exceeded := false
	if st == StatusFailed {
		r.failures++
		exceeded = r.budget >= 0 && r.failures > r.budget
	}
	failures := r.failures
	r.mu.Unlock()
	r.snapshot(s)
	msg := reason
	if serr != nil {
		msg = strings.TrimSpace(reason + " " + serr.String())
	}
	r.emit(s, st, msg)
	if exceeded {
		r.stop(fmt.Sprintf("failure budget exceeded: %d failures, max_failures %s", failures, r.plan.Settings.MaxFailures))
	}
}

// snapshot journals the step's whole record (dry runs journal too: no intents though).
func (r *run) snapshot(s *stepState) {
	r.mu.Lock()
	c := cloneStep(*s.rec)
	r.mu.Unlock()
	r.journal.write(Entry{Type: EntryStep, StepID: c.ID, Step: &c})
}

func cloneStep(c StepRecord) StepRecord {
	c.RequestIDs = append([]string(nil), c.RequestIDs...)
	if c.Error != nil {
		e := *c.Error
		c.Error = &e
	}
	return c
}

func (r *run) emit(s *stepState, st Status, msg string) {
	if r.opts.OnEvent == nil {
		return
	}
	ev := Event{Time: time.Now().UTC(), Step: s.step.ID, Target: s.step.Target, Instance: s.step.Instance,
		Status: st, Message: msg, Progress: r.counters()}
	r.eventMu.Lock()
	defer r.eventMu.Unlock()
	r.opts.OnEvent(ev)
}

// etaBucket is one bucket of mutating calls as the ETA sees it.
type etaBucket struct {
	account, action string
	est             *estimate
	// per counters() call:
	unsent    int
	lastSince time.Time
}

func (r *run) counters() Counters {
	now := time.Now()
	r.mu.Lock()
	c := Counters{Total: len(r.rec.Steps), Throttled: r.limiter.Throttles()}
	for i := range r.buckets {
		r.buckets[i].unsent, r.buckets[i].lastSince = 0, time.Time{}
	}
	for i := range r.rec.Steps {
		st := r.rec.Steps[i].Status
		switch {
		case isFinal(st):
			c.Done++
			if st == StatusFailed {
				c.Failed++
			}
			continue
		case st == StatusRunning:
			c.InFlight++
		case st != StatusPending:
			continue // not-started, cancelled: nothing more happens to it in this run
		}
		s := r.steps[i]
		b := &r.buckets[s.bi]
		if s.sentOK || s.accepted {
			if s.since.After(b.lastSince) {
				b.lastSince = s.since
			}
		} else {
			b.unsent++
		}
	}
	buckets := append([]etaBucket(nil), r.buckets...)
	r.mu.Unlock()
	c.ETA = eta(buckets, now, r.limiter.CurrentRate)
	return c
}

// eta is the remaining time the rate caps and the work in flight allow at best: for every
// bucket of mutating calls, its unsent calls at the bucket's current rate plus one estimated
// duration (the last call must still complete), or, once all its calls are sent, what is left
// of the estimated duration of the last one sent; the largest of these. Dependencies, polling
// lag and parallelism are left out, so the run cannot end sooner. Before any step has
// completed there is no duration estimate, and only the rate part counts.
// etaFloor is the ETA of work that is due by the estimates but not yet seen done.
const etaFloor = time.Second

func eta(buckets []etaBucket, now time.Time, rateOf func(account, action string) float64) time.Duration {
	var best time.Duration
	for _, b := range buckets {
		d, known := b.est.get()
		var left time.Duration
		switch {
		case b.unsent > 0:
			if q := rateOf(b.account, b.action); q > 0 {
				left = time.Duration(float64(b.unsent-1) / q * float64(time.Second))
			}
			if known {
				left += d
			}
		case known && !b.lastSince.IsZero():
			left = b.lastSince.Add(d).Sub(now)
		default:
			continue
		}
		// Work is left in this bucket: a step past its estimate may end any moment, but it
		// has not ended; say so rather than "unknown".
		best = max(best, left, etaFloor)
	}
	return best
}

// writeRecord writes run.json as it stands.
func (r *run) writeRecord() error {
	rec := r.snapshotRecord()
	return WriteRecord(r.opts.Out, rec)
}

func (r *run) snapshotRecord() *Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := *r.rec
	rec.Steps = make([]StepRecord, len(r.rec.Steps))
	for i := range r.rec.Steps {
		rec.Steps[i] = cloneStep(r.rec.Steps[i])
	}
	seg := r.segment
	rec.Segments = append(append([]Segment(nil), r.rec.Segments...), seg)
	rec.Counts = map[Status]int{}
	for _, s := range rec.Steps {
		rec.Counts[s.Status]++
	}
	rec.Buckets = mergeBuckets(r.prior, r.limiter.Stats())
	return &rec
}

// finish sets the outcome, journals the segment's end and writes run.json.
func (r *run) finish() (*Record, error) {
	now := time.Now().UTC()
	why, stoppedEarly := r.stopped()
	r.mu.Lock()
	notRun, bad := 0, 0
	for _, s := range r.rec.Steps {
		switch s.Status {
		case StatusNotStarted, StatusCancelled, StatusPending, StatusRunning:
			notRun++
		case StatusFailed, StatusSkipped, StatusDrifted:
			bad++
		}
	}
	var out Outcome
	switch {
	case notRun > 0:
		out = Outcome{Result: "stopped", Reason: orDefault(why, "stopped"), ExitCode: ExitStopped}
	case bad > 0:
		out = Outcome{Result: "failed", ExitCode: ExitFailed}
	default:
		out = Outcome{Result: "succeeded", ExitCode: ExitOK}
	}
	if !stoppedEarly || notRun == 0 {
		why = ""
	}
	r.segment.FinishedAt = now
	r.segment.Stop = why
	r.rec.Outcome = out
	r.rec.FinishedAt = now
	r.mu.Unlock()
	rec := r.snapshotRecord()
	r.journal.write(Entry{Type: EntryEnd, Time: now, Stop: why})
	if err := WriteRecord(r.opts.Out, rec); err != nil {
		return rec, fmt.Errorf("%w: %w", ErrRecordNotWritten, err)
	}
	return rec, nil
}

func mergeBuckets(prior, now []BucketStats) []BucketStats {
	type key struct{ a, b string }
	m := map[key]*BucketStats{}
	var out []BucketStats
	for _, list := range [][]BucketStats{prior, now} {
		for _, b := range list {
			k := key{b.Account, b.Action}
			if have, ok := m[k]; ok {
				have.Calls += b.Calls
				have.Throttles += b.Throttles
				have.Polls += b.Polls
				have.MinRate = min(have.MinRate, b.MinRate)
				have.Rate = b.Rate
				continue
			}
			c := b
			m[k] = &c
		}
	}
	for _, b := range m {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Account != out[j].Account {
			return out[i].Account < out[j].Account
		}
		return out[i].Action < out[j].Action
	})
	return out
}

func planRef(p *planner.Plan, opts Options) PlanRef {
	if p == nil {
		return PlanRef{Path: opts.PlanPath}
	}
	return PlanRef{Path: opts.PlanPath, Digest: p.Digest, Name: p.Manifest.Name,
		ManifestPath: p.Manifest.Path, ManifestSHA256: p.Manifest.SHA256, CreatedAt: p.CreatedAt}
}

func refusedRecord(p *planner.Plan, opts Options, err error) *Record {
	now := time.Now().UTC()
	rec := &Record{Schema: RecordSchema, Tool: opts.ToolVersion, Plan: planRef(p, opts), DryRun: opts.DryRun,
		StartedAt: now, FinishedAt: now, Counts: map[Status]int{},
		Outcome: Outcome{Result: "refused", Reason: err.Error(), ExitCode: ExitRefused}}
	if p != nil {
		rec.Settings = p.Settings
	}
	return rec
}

// stepError turns a call's error into the record's StepError.
func stepError(err error) *StepError {
	se := &StepError{Class: provider.ClassOf(err), Message: err.Error()}
	if pe, ok := provider.AsError(err); ok {
		se.Code = pe.Code
		se.RequestID = pe.RequestID
		if pe.Message != "" {
			se.Message = pe.Message
		}
	}
	return se
}

// String renders a StepError for a log line: "Code: message (class, request id X)".
func (e *StepError) String() string {
	var b strings.Builder
	if e.Code != "" {
		b.WriteString(e.Code + ": ")
	}
	b.WriteString(e.Message)
	b.WriteString(" (" + string(e.Class))
	if e.RequestID != "" {
		b.WriteString(", request id " + e.RequestID)
	}
	b.WriteString(")")
	return b.String()
}

func describe(v provider.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, v[k])
	}
	return strings.Join(parts, ", ")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// findCycle returns a dependency cycle among the steps ("a → b → a"), or "".
func findCycle(steps []*stepState) string {
	const (
		white = iota
		grey
		black
	)
	color := map[*stepState]int{}
	var stack []*stepState
	var found string
	var visit func(s *stepState) bool
	visit = func(s *stepState) bool {
		color[s] = grey
		stack = append(stack, s)
		for _, d := range s.deps {
			switch color[d.s] {
			case grey:
				var ids []string
				start := 0
				for i, x := range stack {
					if x == d.s {
						start = i
					}
				}
				for _, x := range stack[start:] {
					ids = append(ids, x.step.ID)
				}
				found = strings.Join(append(ids, d.s.step.ID), " → ")
				return true
			case white:
				if visit(d.s) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[s] = black
		return false
	}
	for _, s := range steps {
		if color[s] == white && visit(s) {
			return found
		}
	}
	return ""
}

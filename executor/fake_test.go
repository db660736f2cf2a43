package executor

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

const fakeKind = "fake.db"

// fakeCloud is a product with instances whose upgrade takes `duration`, counted per request.
// Its provider sends every request through Config.Doer, so the Limiter is exercised exactly as
// with a real product. Faults are func fields.
type fakeCloud struct {
	mu       sync.Mutex
	insts    map[string]*fakeInst
	duration time.Duration
	calls    []fakeCall
	// caps throttles an action above this many accepted requests per sliding second.
	caps map[string]int
	// fault, when set, may answer a mutating call with an error; applied reports whether the
	// change takes effect anyway (the "apply then drop the connection" case).
	fault func(c provider.Call, n int) (err error, applied bool)
	// failUpgrade names instances whose upgrade ends in a failed state.
	failUpgrade map[string]bool
	// lag is the accept-to-visible lag: for this long after an accepted call, lists show
	// the instance as before it (ready, old values), as eventually consistent clouds do.
	lag time.Duration
	// listFault, when set, answers a List with an error.
	listFault func() error
	// latency, when set, delays a mutating request by in before the cloud sees it (its
	// arrival, which the caps count) and by out after it answered.
	latency func() (in, out time.Duration)
	// observed is the number of watches of each Observe, in order.
	observed []int
	// perWatch, when set, makes an Observe take this long per watch (a product that reads
	// each watched instance with a call of its own, as MongoDB reads its kernels).
	perWatch time.Duration
}

type fakeInst struct {
	visibleAt time.Time
	values    provider.Values
	busyUntil time.Time
	pendingTo provider.Values
	failed    bool
}

type fakeCall struct {
	at        time.Time
	action    string
	instance  string
	token     string
	dryRun    bool
	throttled bool
	err       bool
}

func newFakeCloud(d time.Duration, insts map[string]provider.Values) *fakeCloud {
	c := &fakeCloud{insts: map[string]*fakeInst{}, duration: d, caps: map[string]int{}, failUpgrade: map[string]bool{}}
	for id, v := range insts {
		c.insts[id] = &fakeInst{values: v}
	}
	return c
}

func (c *fakeCloud) registry() provider.Registry {
	return provider.Registry{fakeKind: provider.Spec{
		Kind: fakeKind, Cloud: "fake", IdempotencyToken: true, DryRun: true,
		Actions: []provider.ActionSpec{{Name: "Upgrade", Mutating: true, QPS: 2}, {Name: "List"}},
		New: func(cfg provider.Config) (provider.Provider, error) {
			return &fakeProvider{c: c, cfg: cfg}, nil
		},
	}}
}

// set changes an instance's values, as another actor's upgrade would.
func (c *fakeCloud) set(id string, v provider.Values) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, x := range v {
		c.insts[id].values[k] = x
	}
}

// sends counts the mutating calls an instance received (accepted or refused), dry runs and
// throttled ones left out: every one is an upgrade the cloud may have started.
func (c *fakeCloud) sends(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.calls {
		if k.action == "Upgrade" && k.instance == id && !k.throttled && !k.dryRun {
			n++
		}
	}
	return n
}

// busy makes an instance busy (not ready) until t.
func (c *fakeCloud) busy(id string, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.insts[id].busyUntil = until
}

// admit records a request and says whether the cap throttles it (lock held).
func (c *fakeCloud) admit(action, inst string) bool {
	now := time.Now()
	limit, ok := c.caps[action]
	throttled := false
	if ok {
		n := 0
		for _, k := range c.calls {
			if k.action == action && !k.throttled && now.Sub(k.at) < time.Second {
				n++
			}
		}
		throttled = n >= limit
	}
	c.calls = append(c.calls, fakeCall{at: now, action: action, instance: inst, throttled: throttled})
	return throttled
}

func (c *fakeCloud) settle(now time.Time) {
	for id, in := range c.insts {
		if in.pendingTo != nil && !now.Before(in.busyUntil) {
			if c.failUpgrade[id] {
				in.failed = true
			} else {
				for k, v := range in.pendingTo {
					in.values[k] = v
				}
			}
			in.pendingTo = nil
		}
	}
}

// upgrades returns the accepted, non-dry-run mutating calls per instance.
func (c *fakeCloud) upgrades() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, k := range c.calls {
		if k.action == "Upgrade" && !k.throttled && !k.err && !k.dryRun {
			out[k.instance]++
		}
	}
	return out
}

func (c *fakeCloud) callsOf(action string) []fakeCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []fakeCall
	for _, k := range c.calls {
		if k.action == action {
			out = append(out, k)
		}
	}
	return out
}

// maxPerSecond is the most requests of an action (throttled ones included) that arrived in
// any one-second window.
func maxPerSecond(calls []fakeCall) int {
	best := 0
	for i := range calls {
		n := 0
		for j := i; j < len(calls) && calls[j].at.Sub(calls[i].at) < time.Second; j++ {
			n++
		}
		best = max(best, n)
	}
	return best
}

type fakeProvider struct {
	c   *fakeCloud
	cfg provider.Config
	// kind is the provider's kind: fakeKind when empty, or fakeKernelKind (readgate_test.go).
	kind string
}

func (p *fakeProvider) req(action, inst string, mutating bool) provider.Request {
	kind := p.kind
	if kind == "" {
		kind = fakeKind
	}
	return provider.Request{Kind: kind, Account: p.cfg.Account.Name, Region: p.cfg.Region, Action: action, Mutating: mutating, Instance: inst}
}

func (p *fakeProvider) List(ctx context.Context, sel provider.Selection) ([]provider.Instance, error) {
	return nil, nil
}

func (p *fakeProvider) Plan(ctx context.Context, inst provider.Instance, want provider.Desired) ([]provider.Change, error) {
	return nil, nil
}

func (p *fakeProvider) Apply(ctx context.Context, call provider.Call) (provider.Receipt, error) {
	var rec provider.Receipt
	err := p.cfg.Doer.Do(ctx, p.req(call.Action, call.Instance, true), func(ctx context.Context) error {
		c := p.c
		if c.latency != nil {
			in, out := c.latency()
			time.Sleep(in)
			defer time.Sleep(out)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		now := time.Now()
		c.settle(now)
		if c.admit(call.Action, call.Instance) {
			return &provider.Error{Class: provider.ClassThrottled, Kind: fakeKind, Action: call.Action, Code: "Throttling.User"}
		}
		k := &c.calls[len(c.calls)-1]
		k.token, k.dryRun = call.ClientToken, call.DryRun
		n := 0
		for _, x := range c.calls {
			if x.action == call.Action && x.instance == call.Instance && !x.throttled {
				n++
			}
		}
		rec = provider.Receipt{RequestID: fmt.Sprintf("req-%d", len(c.calls)), OrderID: "order-" + call.Instance, OrderName: "deal-" + call.Instance}
		in, ok := c.insts[call.Instance]
		if !ok {
			k.err = true
			return &provider.Error{Class: provider.ClassPermanent, Kind: fakeKind, Code: "InstanceNotFound", Instance: call.Instance, RequestID: rec.RequestID}
		}
		var ferr error
		applied := true
		if c.fault != nil {
			ferr, applied = c.fault(call, n)
		}
		if ferr != nil && !applied {
			k.err = true
			return ferr
		}
		if call.DryRun {
			return ferr
		}
		if now.Before(in.busyUntil) {
			k.err = true
			return &provider.Error{Class: provider.ClassPermanent, Kind: fakeKind, Code: "IncorrectStatus", Instance: call.Instance, RequestID: rec.RequestID}
		}
		to := provider.Values{}
		for key, v := range call.Params {
			to[key] = v
		}
		in.pendingTo = to
		in.busyUntil = now.Add(c.duration)
		in.visibleAt = now.Add(c.lag)
		return ferr
	})
	return rec, err
}

func (p *fakeProvider) Observe(ctx context.Context, ws []provider.Watch) ([]provider.Progress, error) {
	if p.kind == fakeKernelKind {
		return p.observeEach(ctx, ws)
	}
	var out []provider.Progress
	err := p.cfg.Doer.Do(ctx, p.req("List", "", false), func(ctx context.Context) error {
		c := p.c
		time.Sleep(c.perWatch * time.Duration(len(ws)))
		c.mu.Lock()
		defer c.mu.Unlock()
		now := time.Now()
		c.settle(now)
		if c.admit("List", "") {
			return &provider.Error{Class: provider.ClassThrottled, Kind: fakeKind, Action: "List", Code: "Throttling.User"}
		}
		if c.listFault != nil {
			if err := c.listFault(); err != nil {
				return err
			}
		}
		c.observed = append(c.observed, len(ws))
		out = make([]provider.Progress, len(ws))
		for i, w := range ws {
			out[i] = c.progressOf(w, now)
		}
		return nil
	})
	return out, err
}

// progressOf is what a look shows of w's instance at now (c.mu held).
func (c *fakeCloud) progressOf(w provider.Watch, now time.Time) provider.Progress {
	in, ok := c.insts[w.Instance]
	if !ok {
		return provider.Progress{Instance: w.Instance, State: provider.StateMissing, Message: w.Instance + " no longer exists"}
	}
	vals := provider.Values{}
	for k, v := range in.values {
		vals[k] = v
	}
	busy := now.Before(in.busyUntil) && !now.Before(in.visibleAt)
	pr := provider.Progress{Instance: w.Instance, Observed: vals, Status: "ready"}
	if busy {
		pr.Status = "busy"
	}
	// A latestMinor step (as alibaba.kafka plans it) is never done before its call;
	// after it, done when the instance runs its version again.
	minor := w.To["latestMinor"] == true
	to := w.To
	if minor {
		to = provider.Values{"version": w.To["version"]}
	}
	_, atTo := provider.Matches(vals, to)
	atTo = atTo && (w.Started || !minor)
	field, atFrom := provider.Matches(vals, w.From)
	switch {
	case in.failed:
		pr.State, pr.Status, pr.Message = provider.StateFailed, "failed", "upgrade failed"
	case atTo && !busy:
		pr.State = provider.StateDone
	case w.Started && busy:
		pr.State = provider.StateInProgress
	case w.Started:
		pr.State, pr.Message = provider.StateFailed, "completion shows other values"
	case !atFrom:
		pr.State, pr.Message = provider.StateDrifted, fmt.Sprintf("%s is %v, the plan expected %v", field, vals[field], w.From[field])
	case busy:
		pr.State = provider.StateWaiting
	default:
		pr.State = provider.StatePending
	}
	return pr
}

// planOf builds a plan with a valid digest from targets and steps.
func planOf(t *testing.T, settings planner.Settings, targets []planner.Target, steps []planner.Step) *planner.Plan {
	t.Helper()
	if settings.PollInterval == 0 {
		settings.PollInterval = planner.Duration(5 * time.Second)
	}
	if settings.StepTimeout == 0 {
		settings.StepTimeout = planner.Duration(time.Hour)
	}
	if settings.Parallelism == 0 {
		settings.Parallelism = 10
	}
	for i := range steps {
		if steps[i].Kind == "" {
			steps[i].Kind = fakeKind
		}
		if steps[i].Region == "" {
			steps[i].Region = "r1"
		}
		if steps[i].Action == "" {
			steps[i].Action = "Upgrade"
		}
	}
	p := &planner.Plan{FormatVersion: planner.FormatVersion, ToolVersion: "test", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Manifest: planner.Source{Path: "fleet.yaml", Name: "test"}, Settings: settings, Targets: targets, Steps: steps}
	d, err := planner.ComputeDigest(p)
	if err != nil {
		t.Fatal(err)
	}
	p.Digest = d
	return p
}

// versionStep upgrades inst of target from version `from` to `to`.
func versionStep(target, inst, from, to string, wave int, deps ...string) planner.Step {
	return planner.Step{ID: target + "/" + inst, Target: target, Instance: inst,
		Params: map[string]any{"version": to}, From: provider.Values{"version": from}, To: provider.Values{"version": to},
		Wave: wave, DependsOn: deps}
}

func statuses(rec *Record) map[string]Status {
	out := map[string]Status{}
	for _, s := range rec.Steps {
		out[s.ID] = s.Status
	}
	return out
}

func stepByID(t *testing.T, rec *Record, id string) StepRecord {
	t.Helper()
	for _, s := range rec.Steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no step %s in the record", id)
	return StepRecord{}
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Package provider defines what every cloud product implements for upgradeplan: reading live
// state in bulk, turning a target's desired state into exact API calls under the product's
// rules, sending one mutating call, and observing completion for many instances at once. It
// also owns the shared error classes and secret references.
//
// Product knowledge lives in the sub-packages (provider/alibaba/..., provider/tencent/...);
// this package must not name a product, and the planner and executor never switch on a kind.
package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"
)

// Selection picks instances of a region: by id, by tags, or both (the intersection).
type Selection struct {
	IDs  []string          `json:"ids,omitempty"`
	Tags map[string]string `json:"tags,omitempty"`
}

// Phase reduces a product's status to what the executor needs to know.
type Phase string

const (
	PhaseReady  Phase = "ready"  // idle: a mutating call may be sent
	PhaseBusy   Phase = "busy"   // in a workflow (upgrading, deploying, not Running): wait
	PhaseFailed Phase = "failed" // the product reports a failed change
)

// Values are observed or planned fields of an instance, named as the manifest's `desired`
// names them (memSizeMB, kernelVersion, ...) plus the facts a product's rules need
// (replicationFactor, chargeType, ...). Values hold JSON scalars: string, bool, int64,
// float64 or json.Number (after a plan file is read back). Compare them with SameValue.
type Values map[string]any

// Instance is one instance's live state as a bulk read returns it.
type Instance struct {
	ID     string            `json:"id"`
	Region string            `json:"region"`
	Status string            `json:"status"` // the product's own status string, for people
	Phase  Phase             `json:"phase"`
	Values Values            `json:"values"`
	Tags   map[string]string `json:"tags,omitempty"`
}

// Desired is a target's `desired` block: strings, bools, int64, float64, nested
// map[string]any (Compute Nest parameters) and SecretRef values.
type Desired map[string]any

// Change is one mutating API call planned for one instance.
type Change struct {
	// Action is the API action, e.g. "UpgradeInstanceVersion".
	Action string
	// Params are the exact parameters that will be sent, secrets as SecretRef. Fields the
	// executor adds at call time (ClientToken, DryRun) are not included.
	Params map[string]any
	// From holds the observed fields this change depends on; To what completion must show.
	From Values
	To   Values
	// Notes are warnings a reviewer must see: "restarts once", "one-way change", ...
	Notes []string
}

// Call is a mutating call as the executor sends it.
type Call struct {
	Instance    string
	Action      string
	Params      map[string]any
	ClientToken string // empty where the API takes none, and on a dry run (the token is the real call's)
	DryRun      bool   // only for APIs with a real dry run; the executor never calls Apply otherwise in a dry run
}

// Receipt is what the cloud answered to an accepted call.
type Receipt struct {
	RequestID string `json:"request_id,omitempty"`
	OrderID   string `json:"order_id,omitempty"` // order, deal or task id where the API returns one
	// OrderName is the order's other handle where the API has two (Tencent's DealName
	// beside the deprecated DealId), for people and support tickets.
	OrderName string `json:"order_name,omitempty"`
}

// Watch asks Observe about one planned step on one instance.
type Watch struct {
	Instance string
	Action   string
	From     Values
	To       Values
	// Started is true once the mutating call was accepted (or may have been).
	Started bool
	// MaySent is true for a watch not started whose call may have reached the cloud (its
	// answer was lost): on an untouched verdict (pending) held for the visibility grace
	// the executor sends the call again, so a product whose bulk read trails its
	// per-instance read (RabbitMQ) takes that verdict from the latter.
	MaySent bool
	// Since is when the call was accepted; zero when not started.
	Since time.Time
	// OrderID is the accepted call's Receipt.OrderID (order, deal or task id), "" when
	// unknown. Products whose completion is told by the order (tencent.redis deals) use it;
	// the others ignore it.
	OrderID string
	// OrderName is the accepted call's Receipt.OrderName, "" when unknown: a product whose
	// OrderID falls back to it (tencent.redis, when the answer has no DealId) tells the
	// two apart by it.
	OrderName string
}

// State is where a watched step stands.
type State string

const (
	// Not started:
	StatePending State = "pending" // `from` matches and the instance is ready: the call may be sent
	StateWaiting State = "waiting" // `from` matches but the instance is busy: wait before calling
	StateDrifted State = "drifted" // `from` no longer matches: do not call
	// Started:
	StateInProgress State = "in-progress"
	// Either:
	StateDone    State = "done"    // `to` is observed (before a call: nothing to do)
	StateFailed  State = "failed"  // the product reports failure, or completion shows other values
	StateMissing State = "missing" // the instance no longer exists
)

// Progress is Observe's answer for one Watch.
type Progress struct {
	Instance string `json:"instance"`
	State    State  `json:"state"`
	Status   string `json:"status,omitempty"` // the product's own status
	Observed Values `json:"observed,omitempty"`
	// Message says why for drifted, failed and missing, naming both values where they differ.
	Message string `json:"message,omitempty"`
}

// Provider is one cloud product in one region under one account.
//
// Every request a provider sends goes through Config.Doer, so the caller can rate-limit,
// count and retry it. Implementations are safe for concurrent use.
type Provider interface {
	// List returns every instance of the region matching sel, sorted by id, in the fewest
	// calls the API allows.
	List(ctx context.Context, sel Selection) ([]Instance, error)
	// Plan turns one instance's live state and the target's desired state into zero or more
	// changes, in the order they must run. A broken product rule is a *RuleError.
	Plan(ctx context.Context, inst Instance, want Desired) ([]Change, error)
	// Apply sends one mutating call. Secrets are resolved here and nowhere else.
	Apply(ctx context.Context, call Call) (Receipt, error)
	// Observe reports every watched instance with one list call per page, never one
	// describe per instance. The answer has one Progress per Watch, in the same order.
	Observe(ctx context.Context, watches []Watch) ([]Progress, error)
}

// Spec describes a product: its kind, its cloud and its API actions.
type Spec struct {
	Kind    string // "alibaba.kafka"
	Cloud   string // "alibaba" or "tencent"
	Actions []ActionSpec
	// IdempotencyToken is true where the mutating API takes a ClientToken.
	IdempotencyToken bool
	// DryRun is true where the mutating API has a real dry run: `apply --dry-run` sends the
	// call with Call.DryRun set instead of skipping it.
	DryRun bool
	// VisibilityGrace is how long a change the API accepted may stay invisible in the
	// product's lists and describes (the cloud is eventually consistent). A call whose
	// outcome is unknown is never sent again before the instance was observed untouched
	// for this long after the call, and a change that shows nothing new when done (a
	// restart in place) counts as done only once it was seen busy or this long has passed.
	// Each product documents its value; settings may override it. Zero means
	// DefaultVisibilityGrace.
	VisibilityGrace time.Duration
	// StartGrace is how long after an accepted mutating call the instance may still look
	// untouched (idle at its `from` values) before Observe fails the step as never
	// started, naming what it observed. The clouds answer before the instance's status
	// changes, so a product whose upgrade shows no sign at once needs one; zero means the
	// product tells a change that has not begun by other means (an order, a status).
	StartGrace time.Duration
	// New opens the product for one region and account.
	New func(Config) (Provider, error)
	// Recheck re-derives a change read back from a plan file from its From and To with the
	// product's own planning code, without any call, and reports how the recorded action,
	// parameters, from or to differ (see SameChange). `show` and `apply` run it on every
	// step, so that a plan edited and re-digested cannot send what the product's rules
	// would never have planned (a moved RegionId, an injected parameter).
	Recheck func(region, instance string, c Change) error
	// ShortestOperation is the least time an upgrade of the product takes: a stepTimeout
	// below it fails every step, and plan, show and apply warn about it. It is also the
	// shortest busy spell a change shows, so looks closer together than it cannot miss one.
	ShortestOperation time.Duration
	// FailureLeavesNoTrace is true where a change that fails rolls the instance back to
	// its `from` with nothing in lists or describes to show it was tried (MongoDB: Running
	// on the old kernel, no failed status). A call whose answer was lost is then sent
	// again only if the executor watched the instance over the whole visibility grace,
	// never on a single later look.
	FailureLeavesNoTrace bool
	// ReadPerWatch is true where judging an instance before its call costs a read of its
	// own (MongoDB: only DescribeDBInstanceAttribute shows the kernel, one id per call),
	// where other products' lists judge a page of instances at once. The executor then
	// takes such a verdict only for a step that holds its slot, whose call can follow
	// within the look freshness bound, never ahead of it for steps that may wait longer.
	ReadPerWatch bool
	// Deferred reports whether a change is carried out later than its call (MongoDB's
	// SwitchMode=1: in the instance's maintenance window, maybe hours on), so that a call
	// the cloud accepted may show nothing for far longer than the visibility grace. A call
	// of such a change whose answer was lost is never sent again: its instance is looked
	// at until the change shows, and a step that shows nothing by stepTimeout fails in
	// doubt. Nil: no change of the product is deferred.
	Deferred func(to Values) bool
}

// DefaultVisibilityGrace is the visibility grace of a product that declares none.
const DefaultVisibilityGrace = time.Minute

// ActionSpec is one API action and its documented rate cap (0: not documented).
type ActionSpec struct {
	Name     string
	Mutating bool
	QPS      float64
}

// Registry maps kinds to their specs; cmd/upgradeplan builds it from the product packages.
type Registry map[string]Spec

// Kinds returns the registered kinds, sorted.
func (r Registry) Kinds() []string {
	kinds := make([]string, 0, len(r))
	for k := range r {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// Open opens kind for cfg.
func (r Registry) Open(kind string, cfg Config) (Provider, error) {
	spec, ok := r[kind]
	if !ok {
		return nil, fmt.Errorf("unknown kind %q", kind)
	}
	return spec.New(cfg)
}

// Account is a named credential set from the manifest. The zero Account means the SDK's
// default credential chain. Credentials are references or key ids, never secret values.
type Account struct {
	Name  string `json:"name,omitempty"`
	Cloud string `json:"cloud,omitempty"`
	// KeyID is the AccessKey id (Alibaba) or SecretId (Tencent) when it is read from the
	// environment; KeyIDLiteral when the manifest writes the id out (a key id is not secret).
	KeyID        SecretRef `json:"key_id,omitzero"`
	KeyIDLiteral string    `json:"key_id_literal,omitempty"`
	// Secret is the AccessKey secret (Alibaba) or SecretKey (Tencent).
	Secret SecretRef `json:"secret,omitzero"`
}

// Default reports whether the account is the SDK's default credential chain.
func (a Account) Default() bool {
	return a.KeyID.FromEnv == "" && a.KeyIDLiteral == "" && a.Secret.FromEnv == ""
}

// ResolveKeyID returns the key id: the literal, or the referenced variable's value.
func (a Account) ResolveKeyID(getenv func(string) string) (string, error) {
	if a.KeyIDLiteral != "" {
		return a.KeyIDLiteral, nil
	}
	return a.KeyID.Resolve(getenv)
}

// Config opens a provider.
type Config struct {
	Region  string
	Account Account
	// Doer sends every request; nil sends directly.
	Doer Doer
	// Getenv reads secrets and endpoint overrides; nil means os.Getenv.
	Getenv func(string) string
	// Timeout bounds one HTTP request; zero means the provider's default.
	Timeout time.Duration
}

// Env returns cfg.Getenv or os.Getenv.
func (c Config) Env() func(string) string {
	if c.Getenv != nil {
		return c.Getenv
	}
	return os.Getenv
}

// Request describes one API request for a Doer.
type Request struct {
	Kind     string
	Account  string // Account.Name; "" for the default chain
	Region   string
	Action   string
	Mutating bool
	Instance string // for mutating calls
}

// Doer sends one request on a provider's behalf. The executor's Doer takes a token from the
// (account, kind/action) bucket, counts calls and throttles, and retries what is safe to
// retry (reads; a mutating call only when it was throttled, since a throttled call did
// nothing). send returns errors already classified as *Error.
type Doer interface {
	Do(ctx context.Context, req Request, send func(context.Context) error) error
}

// DoerFunc adapts a function to Doer.
type DoerFunc func(ctx context.Context, req Request, send func(context.Context) error) error

func (f DoerFunc) Do(ctx context.Context, req Request, send func(context.Context) error) error {
	return f(ctx, req, send)
}

// Direct sends every request at once, without limits or retries.
var Direct Doer = DoerFunc(func(ctx context.Context, _ Request, send func(context.Context) error) error {
	return send(ctx)
})

// SecretRef is a value read from the environment when a call is made: `{fromEnv: NAME}`.
// Its value never appears in a plan file, a report, a log line or an error message.
type SecretRef struct {
	FromEnv string `json:"fromEnv"`
}

// Resolve reads the referenced variable. The error names the variable, never a value.
func (r SecretRef) Resolve(getenv func(string) string) (string, error) {
	v := getenv(r.FromEnv)
	if v == "" {
		return "", fmt.Errorf("environment variable %s is not set", r.FromEnv)
	}
	return v, nil
}

// AsSecretRef recognises a secret reference in a decoded value: a SecretRef, or a
// map {"fromEnv": NAME} as it reads back from a plan file.
func AsSecretRef(v any) (SecretRef, bool) {
	switch x := v.(type) {
	case SecretRef:
		return x, true
	case *SecretRef:
		return *x, x != nil
	case map[string]any:
		if len(x) != 1 {
			return SecretRef{}, false
		}
		name, ok := x["fromEnv"].(string)
		return SecretRef{FromEnv: name}, ok
	}
	return SecretRef{}, false
}

// SameValue compares two JSON scalars by their JSON encoding, so int64(8192),
// float64(8192) and json.Number("8192") are equal.
func SameValue(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// Matches reports whether every field of want is observed in have, and names the first
// field that differs.
func Matches(have, want Values) (field string, ok bool) {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !SameValue(have[k], want[k]) {
			return k, false
		}
	}
	return "", true
}

// RuleError is a product rule that a desired state breaks, found before any call.
type RuleError struct {
	Field   string // the `desired` key at fault ("memSizeMB"), "" for the instance as a whole
	Message string // what is wrong and what to change, e.g. "3000 is not a multiple of 1024"
}

func (e *RuleError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

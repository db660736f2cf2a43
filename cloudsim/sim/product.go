package sim

import (
	"net/url"
	"time"

	"gopkg.in/yaml.v3"
)

// Protocol is how a product's API is called.
type Protocol string

const (
	// RPC is Alibaba Cloud's RPC style: Action, Version and every parameter in the query
	// (or a form body), signed with HMAC-SHA1.
	RPC Protocol = "alibaba-rpc"
	// TC3 is Tencent Cloud API 3.0: POST / with a JSON body, X-TC-Action/Version/Region
	// headers, signed with TC3-HMAC-SHA256.
	TC3 Protocol = "tencent-tc3"
)

// Product is one simulated cloud product. The server routes a request to it by protocol and
// API version, verifies the signature, applies rate limits and faults, then calls the
// action under the server's lock: a product needs no locking of its own.
type Product interface {
	// Name is the product's short name as rate-limit and fault keys use it: "alikafka",
	// "dds", "amqp-open", "computenestsupplier", "redis".
	Name() string
	Protocol() Protocol
	// Version is the API version the product answers: "2019-09-16".
	Version() string
	// StateKey is the product's key in the state file: "kafka", "mongodb", "rabbitmq",
	// "computenest", "redis". Load receives that key's YAML node (nil when absent).
	StateKey() string
	Load(node *yaml.Node) error
	// Actions maps action names to handlers.
	Actions() map[string]Action
	// Snapshot returns the product's state for GET /_sim/state (JSON-encodable).
	Snapshot() any
}

// Action handles one request. It returns the response object (JSON-encodable; the server
// adds RequestId, and for TC3 wraps it in {"Response": ...}) or an error: an *APIError is
// sent as the cloud's error answer, any other error as InternalError.
type Action func(r *Request) (any, error)

// Request is one authenticated call as a product sees it.
type Request struct {
	Action  string
	Account *Account
	// Region is RegionId (RPC) or X-TC-Region (TC3).
	Region string
	// Params holds an RPC request's parameters from query and form, without the common
	// and signature ones (AccessKeyId, Signature*, Timestamp, Version, Action, Format, ...).
	Params url.Values
	// Body is a TC3 request's JSON body.
	Body      []byte
	RequestID string
	// Now is the simulator's clock.
	Now time.Time
	// ListLag is the product's list index lag (state file `listLag`): Table.List answers
	// from a copy of the instances at most this old, as the clouds' list actions, served
	// from an index, trail their per-instance describes. 0: lists show what describes do.
	ListLag time.Duration

	sim Host
}

// Host is what the server offers an action: scheduling lifecycle transitions and faults.
type Host interface {
	// After runs fn, under the server's lock, once d of simulated time has passed (d is
	// divided by the time scale). Transitions run lazily before every request and state
	// read, in due order, so a product always answers from an up-to-date state.
	After(d time.Duration, fn func(now time.Time))
	// Duration returns the simulated duration of an upgrade of the state key's product
	// (state file `durations`, else def), before time scaling.
	Duration(stateKey string, def time.Duration) time.Duration
	// FailUpgrade reports whether faults name this instance as one whose upgrade must end
	// in the product's failed status.
	FailUpgrade(instanceID string) bool
	// Apply records an accepted change in the applied-changes record (GET /_sim/applied)
	// and runs effect, the change itself, once the product's visibility lag (state file
	// visibilityLag, plus any lag fault of the call) has passed: until then every action
	// sees the instance as it was. At lag 0 effect runs at once. An action calls it last,
	// after every check passed, with everything the change alters inside effect.
	Apply(c Change, effect func(now time.Time))
}

// After schedules fn (see Host.After).
func (r *Request) After(d time.Duration, fn func(now time.Time)) { r.sim.After(d, fn) }

// Duration returns the configured upgrade duration for a state key (see Host.Duration).
func (r *Request) Duration(stateKey string, def time.Duration) time.Duration {
	return r.sim.Duration(stateKey, def)
}

// FailUpgrade reports whether a fault makes this instance's upgrade fail.
func (r *Request) FailUpgrade(instanceID string) bool { return r.sim.FailUpgrade(instanceID) }

// Apply records an accepted change and makes it after the visibility lag (see Host.Apply).
func (r *Request) Apply(c Change, effect func(now time.Time)) { r.sim.Apply(c, effect) }

// NewRequest builds a Request for tests of a product without a server.
func NewRequest(action string, acct *Account, region string, params url.Values, body []byte, now time.Time, host Host) *Request {
	return &Request{Action: action, Account: acct, Region: region, Params: params, Body: body, Now: now, RequestID: "test-request", sim: host}
}

// Account is a simulated cloud account.
type Account struct {
	// Name identifies the account in instance ownership and /_sim/calls.
	Name  string `yaml:"name" json:"name"`
	Cloud string `yaml:"cloud" json:"cloud"` // "alibaba" or "tencent"
	// KeyID/Secret are the AccessKey id and secret (Alibaba) or SecretId/SecretKey (Tencent).
	KeyID  string `yaml:"keyId" json:"keyId"`
	Secret string `yaml:"secret" json:"-"`
}

// Owns reports whether an instance owned by owner ("" = every account of its cloud) is
// visible to the account.
func (a *Account) Owns(owner string) bool { return owner == "" || owner == a.Name }

// APIError is the cloud's error answer. Status is the HTTP status for RPC (TC3 always
// answers 200 with Response.Error).
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an APIError.
func Errorf(status int, code, format string, args ...any) *APIError {
	return &APIError{Status: status, Code: code, Message: sprintf(format, args...)}
}

package sim

import (
	"encoding/json"
	"net/http"
	"time"
)

// CallRecord is one API request the server received, as GET /_sim/calls lists it.
type CallRecord struct {
	// Time is the real clock (Options.Now) at arrival; rate windows are measured on it.
	Time time.Time `json:"time"`
	// SimTime is the simulated clock at arrival.
	SimTime  time.Time `json:"simTime"`
	Protocol Protocol  `json:"protocol"`
	// Account is the account name, "" when the key id is unknown or missing.
	Account string `json:"account"`
	// Product is the product Name() ("alikafka", "redis"); for TC3 the credential
	// scope's service even when no product answers it.
	Product string `json:"product"`
	Action  string `json:"action"`
	Region  string `json:"region"`
	// Instance is the instance the call names (InstanceId, DBInstanceId or
	// ServiceInstanceId; the TC3 body's InstanceId), "" for none.
	Instance string `json:"instance,omitempty"`
	// Params are the RPC parameters without the signature and credential ones (first
	// value of each), or the TC3 body's top-level fields (strings as they are, anything
	// else as compact JSON), with every secret masked (IsSecretName: the parameter
	// itself or a field inside a JSON list; IsSecretParameter: a key of a JSON object).
	Params map[string]string `json:"parameters"`
	// Status is the HTTP status answered; 0 when the connection was dropped.
	Status int `json:"status"`
	// Code is the answer's error code; "" means success.
	Code      string `json:"code"`
	RequestID string `json:"requestId"`
	// Fault names the injected fault that shaped the answer ("internal-error",
	// "unavailable", "throttle", "latency", "drop"), "" for none.
	Fault string `json:"fault,omitempty"`
	// Latency is the latency the faults file's latencies drew for it (both ways).
	Latency time.Duration `json:"latency,omitempty"`

	host     string
	unmasked map[string]string // Params before masking; never served
}

// Unmasked returns a parameter as it was received, secrets included. It is for tests in
// the same process that must prove a secret reached the cloud; nothing the simulator
// serves or logs shows it.
func (c CallRecord) Unmasked(name string) string { return c.unmasked[name] }

// OK reports whether the call was answered with success (a dropped connection after a
// successful action counts as OK: the change was made).
func (c CallRecord) OK() bool { return c.Code == "" }

// Calls returns every API call answered so far, in the order they were answered (a call
// slowed by a latency fault is listed when it finishes; Time is still its arrival).
func (s *Server) Calls() []CallRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CallRecord, len(s.calls))
	copy(out, s.calls)
	for i := range out {
		out[i].Params = clone(out[i].Params)
		out[i].unmasked = clone(out[i].unmasked)
	}
	return out
}

func clone(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// State returns the JSON document GET /_sim/state serves: "accounts" (without secrets),
// "time" (the simulated clock), and each product's Snapshot under its state key. Due
// lifecycle transitions run first.
func (s *Server) State() (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.runDue(); err != nil {
		return nil, err
	}
	doc := map[string]any{"accounts": s.accounts, "time": s.simNow()}
	for _, e := range s.products {
		doc[e.p.StateKey()] = e.p.Snapshot()
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, sprintfErr("sim: encode state: %w", err)
	}
	return b, nil
}

func (s *Server) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "only GET", http.StatusMethodNotAllowed)
		return
	}
	var body []byte
	var err error
	switch r.URL.Path {
	case "/_sim/calls":
		body, err = json.Marshal(s.Calls())
	case "/_sim/state":
		body, err = s.State()
	case "/_sim/applied":
		body, err = json.Marshal(s.Applied())
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

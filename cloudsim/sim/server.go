package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Options tune a Server.
type Options struct {
	// TimeScale is how many simulated seconds pass per real second: 60 turns a
	// 30-minute upgrade into 30 real seconds. 0 means 1.
	TimeScale float64
	// Faults is a faults file (YAML; see examples/sim/faults.yaml); empty for none.
	Faults []byte
	// Now is the real clock, time.Now when nil. Rate-limit windows and CallRecord.Time
	// use it directly; the simulated clock is its elapsed time times TimeScale. Tests pass
	// a fake clock to make rate limits and lifecycles exact. Request signatures' times
	// are checked against time.Now, the clock the SDKs sign with, whatever Now is.
	Now func() time.Time
	// Answered, when set, receives every answer the server sends (refusals included),
	// under the server's lock: it must be quick and must not call the server. Tests use
	// it to check answers against the vendors' API models (package cloudsim/contract).
	Answered func(Answer)
}

// Server is the simulated cloud: an http.Handler answering Alibaba RPC and Tencent TC3
// requests for its products, plus GET /_sim/calls and GET /_sim/state.
type Server struct {
	mu sync.Mutex

	clock     func() time.Time
	scale     float64
	realStart time.Time
	wall      func() time.Time // the clock request signatures are checked against
	nonces    *nonceMemory
	answered  func(Answer)

	accounts  []*Account
	byKey     map[string]*Account // cloud + "/" + key id
	durations map[string]time.Duration

	products []*productEntry
	rpc      map[string][]*productEntry // by API version
	tc3      map[string]*productEntry   // by service + "/" + version

	limits *limiter
	faults *faults
	lags   map[string]time.Duration // visibility lag by state key
	// listLags is the list index lag by state key: how far a product's list actions may
	// trail its describes (Table.List).
	listLags map[string]time.Duration

	sched   schedule
	running time.Time // the due time of the transition running, zero between them
	applied []AppliedChange
	seq     uint64 // transition scheduling order
	reqSeq  uint64
	calls   []CallRecord
}

type productEntry struct {
	p       Product
	actions map[string]Action
}

// NewServer loads the state file into the products and returns a server ready to serve.
// The state file's format is described in the package documentation.
func NewServer(stateYAML []byte, opts Options, products ...Product) (*Server, error) {
	s := &Server{
		clock: opts.Now,
		scale: opts.TimeScale,
		byKey: map[string]*Account{},
		rpc:   map[string][]*productEntry{},
		tc3:   map[string]*productEntry{},

		wall:     time.Now,
		nonces:   newNonceMemory(alibabaSkew),
		answered: opts.Answered,
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.scale == 0 {
		s.scale = 1
	}
	if s.scale < 0 {
		return nil, fmt.Errorf("sim: time scale %v is negative", s.scale)
	}
	s.realStart = s.clock()

	keys := map[string]bool{}
	for _, p := range products {
		key := p.StateKey()
		switch {
		case key == keyAccounts || key == keyQPS || key == keyDurations || key == keyLags || key == "time" || key == "":
			return nil, fmt.Errorf("sim: product %s: state key %q is reserved", p.Name(), key)
		case keys[key]:
			return nil, fmt.Errorf("sim: two products use the state key %q", key)
		}
		keys[key] = true
		e := &productEntry{p: p, actions: p.Actions()}
		s.products = append(s.products, e)
		switch p.Protocol() {
		case RPC:
			s.rpc[p.Version()] = append(s.rpc[p.Version()], e)
		case TC3:
			k := p.Name() + "/" + p.Version()
			if s.tc3[k] != nil {
				return nil, fmt.Errorf("sim: two TC3 products answer %s", k)
			}
			s.tc3[k] = e
		default:
			return nil, fmt.Errorf("sim: product %s: unknown protocol %q", p.Name(), p.Protocol())
		}
	}

	st, err := parseState(stateYAML, keys)
	if err != nil {
		return nil, err
	}
	s.accounts = st.accounts
	for _, a := range st.accounts {
		s.byKey[a.Cloud+"/"+a.KeyID] = a
	}
	s.durations = st.durations
	s.lags = st.lags
	s.listLags = st.listLags
	s.limits = newLimiter(st.qps)
	if s.faults, err = parseFaults(opts.Faults); err != nil {
		return nil, err
	}
	for _, e := range s.products {
		if err := e.p.Load(st.products[e.p.StateKey()]); err != nil {
			return nil, fmt.Errorf("sim: state: %s: %w", e.p.StateKey(), err)
		}
	}
	if err := s.scheduleActors(s.faults.actors); err != nil {
		return nil, err
	}
	return s, nil
}

// simNow is the simulated clock: real elapsed time times the time scale.
func (s *Server) simNow() time.Time {
	elapsed := s.clock().Sub(s.realStart)
	return s.realStart.Add(time.Duration(float64(elapsed) * s.scale))
}

// Now returns the simulated time.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.simNow()
}

// Inspect runs fn under the server lock after every due lifecycle transition has run, so
// a test can read a product's state race-free and up to date.
func (s *Server) Inspect(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.runDue()
	fn()
}

// call is one request on its way through the server.
type call struct {
	proto   Protocol
	rec     CallRecord
	entry   *productEntry
	action  Action
	req     *Request
	refusal *APIError     // set when authentication or routing refused the call
	lag     time.Duration // added to the product's visibility lag by lag faults
	applied []int         // indexes in Server.applied of the changes this call made
}

// ServeHTTP answers a cloud API request, or GET /_sim/calls and /_sim/state.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.serveIntrospection(w, r)
		return
	}
	in := readIncoming(r)
	var c *call
	if isTencent(r, in) {
		c = s.parseTencent(r, in)
	} else {
		c = s.parseAlibaba(r, in)
	}
	way, back := s.networkDelay(c) // faults file latencies (spread.go)
	c.rec.Latency = way + back
	if sleep(r.Context(), way) != nil {
		return
	}
	a := s.handle(r.Context(), c)
	_ = sleep(r.Context(), back)
	if a.drop {
		dropConnection(w)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// answer is what goes back on the wire.
type answer struct {
	status int
	body   []byte
	code   string
	drop   bool
}

func (s *Server) handle(ctx context.Context, c *call) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqSeq++
	c.rec.RequestID = requestID(c.proto, s.reqSeq)
	c.rec.Time = s.clock()
	c.rec.SimTime = s.simNow()

	a := s.decide(ctx, c)
	c.rec.Status = a.status
	c.rec.Code = a.code
	if a.drop {
		c.rec.Status = 0
	}
	s.calls = append(s.calls, c.rec)
	if s.answered != nil {
		version := ""
		if c.entry != nil {
			version = c.entry.p.Version()
		}
		s.answered(Answer{Protocol: c.proto, Product: c.rec.Product, Action: c.rec.Action, Version: version,
			Status: a.status, Code: a.code, Body: a.body, Fault: c.rec.Fault})
	}
	return a
}

// decide runs the call through refusal, rate limit, faults and the product; it holds the
// server lock except while sleeping an injected latency.
func (s *Server) decide(ctx context.Context, c *call) answer {
	if err := s.runDue(); err != nil {
		return s.errorAnswer(c, Errorf(http.StatusInternalServerError, "InternalError", "%v", err))
	}
	if c.refusal != nil {
		return s.errorAnswer(c, c.refusal)
	}
	productAction := c.rec.Product + "/" + c.rec.Action
	if !s.limits.allow(c.rec.Account, productAction, c.rec.Time) {
		return s.errorAnswer(c, throttledFor(c.proto, c.rec.Product))
	}
	d := s.faults.draw(c.rec.Product, c.rec.Action, c.rec.Instance)
	hit := d.hit
	c.lag = d.lag
	if d.lag > 0 {
		c.rec.Fault = string(FaultLag)
	}
	if d.latency > 0 {
		c.rec.Fault = string(FaultLatency)
		s.mu.Unlock()
		err := sleep(ctx, d.latency)
		s.mu.Lock()
		if err != nil {
			return s.errorAnswer(c, Errorf(http.StatusInternalServerError, "InternalError", "the client went away during an injected latency"))
		}
		if err := s.runDue(); err != nil {
			return s.errorAnswer(c, Errorf(http.StatusInternalServerError, "InternalError", "%v", err))
		}
	}
	if hit != nil {
		c.rec.Fault = string(hit.Fault)
		if !hit.Apply && !hit.acceptFirst() {
			if a, ok := s.faultAnswer(c, hit); ok {
				return a
			}
		}
	}
	c.req.RequestID = c.rec.RequestID
	c.req.Now = c.rec.SimTime
	if d.latency > 0 {
		c.req.Now = s.simNow()
	}
	c.req.sim = host{s: s, c: c, product: c.entry.p.Name(), stateKey: c.entry.p.StateKey()}
	c.req.ListLag = s.listLags[c.entry.p.StateKey()]
	out, err := invoke(c.action, c.req)
	var a answer
	if err != nil {
		a = s.errorAnswer(c, asAPIError(err))
	} else {
		a = s.successAnswer(c, out)
	}
	if hit == nil {
		return a
	}
	if hit.Fault == FaultDrop {
		a.drop = true
		s.markLost(c, hit.Fault)
	} else if fa, ok := s.faultAnswer(c, hit); ok { // apply: true, after: accept
		a = fa
		s.markLost(c, hit.Fault)
	}
	return a
}

// faultAnswer is the answer an error fault sends instead of the product's; ok is false
// for faults that do not replace the answer.
func (s *Server) faultAnswer(c *call, hit *faultRule) (answer, bool) {
	switch hit.Fault {
	case FaultInternalError:
		return s.errorAnswer(c, Errorf(http.StatusInternalServerError, "InternalError", "The request processing has failed due to some unknown error, exception or failure.")), true
	case FaultUnavailable:
		a := s.errorAnswer(c, Errorf(http.StatusServiceUnavailable, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."))
		a.status = http.StatusServiceUnavailable // TC3 too: a gateway failure, not an API error
		return a, true
	case FaultThrottle:
		return s.errorAnswer(c, throttledFor(c.proto, c.rec.Product)), true
	case FaultError:
		return s.errorAnswerFor(c, hit), true
	}
	return answer{}, false
}

// invoke calls an action, turning a panic into an InternalError so one product bug
// cannot take the server (and its lock) down.
func invoke(action Action, r *Request) (out any, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, Errorf(http.StatusInternalServerError, "InternalError", "simulator: action %s panicked: %v", r.Action, v)
		}
	}()
	return action(r)
}

func asAPIError(err error) *APIError {
	if e, ok := err.(*APIError); ok {
		if e.Status == 0 {
			e = &APIError{Status: http.StatusBadRequest, Code: e.Code, Message: e.Message}
		}
		return e
	}
	return Errorf(http.StatusInternalServerError, "InternalError", "%v", err)
}

func throttled(p Protocol) *APIError {
	if p == TC3 {
		return Errorf(http.StatusBadRequest, "RequestLimitExceeded", "The number of requests exceeds the frequency limit of this API.")
	}
	return Errorf(http.StatusBadRequest, "Throttling.User", "Request was denied due to user flow control.")
}

func (s *Server) successAnswer(c *call, out any) answer {
	body, err := withRequestID(out, c.rec.RequestID)
	if err != nil {
		return s.errorAnswer(c, Errorf(http.StatusInternalServerError, "InternalError", "simulator: encode %s answer: %v", c.rec.Action, err))
	}
	if c.proto == TC3 {
		body = append(append([]byte(`{"Response":`), body...), '}')
	}
	return answer{status: http.StatusOK, body: body, code: refusalCode(out)}
}

// withRequestID marshals out (a JSON object, or nil) with RequestId added.
func withRequestID(out any, id string) ([]byte, error) {
	idField, _ := json.Marshal(id)
	head := append([]byte(`{"RequestId":`), idField...)
	if out == nil {
		return append(head, '}'), nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != '{' {
		return nil, fmt.Errorf("the answer is not a JSON object: %.40s", b)
	}
	if string(b) == "{}" {
		return append(head, '}'), nil
	}
	return append(append(head, ','), b[1:]...), nil
}

func (s *Server) errorAnswer(c *call, e *APIError) answer {
	if c.proto == TC3 {
		body, _ := json.Marshal(map[string]any{"Response": map[string]any{
			"Error":     map[string]string{"Code": e.Code, "Message": e.Message},
			"RequestId": c.rec.RequestID,
		}})
		return answer{status: http.StatusOK, body: body, code: e.Code}
	}
	body, _ := json.Marshal(struct {
		RequestID string `json:"RequestId"`
		HostID    string `json:"HostId"`
		Code      string `json:"Code"` // always a string: a number makes the Alibaba SDK panic
		Message   string `json:"Message"`
		Recommend string `json:"Recommend"`
	}{c.rec.RequestID, c.rec.host, e.Code, e.Message, recommend(e.Code, c.rec.Product, c.rec.RequestID)})
	status := e.Status
	if status < 300 {
		status = http.StatusBadRequest
	}
	return answer{status: status, body: body, code: e.Code}
}

// recommend is the troubleshooting link Alibaba puts in every error answer.
func recommend(code, product, requestID string) string {
	q := url.Values{"q": {code}, "product": {product}, "requestId": {requestID}}
	return "https://api.aliyun.com/troubleshoot?" + q.Encode()
}

// requestID makes the n-th request id in the cloud's style: upper-case UUID-like for
// Alibaba, lower-case for Tencent. They are sequential so a run is reproducible.
func requestID(p Protocol, n uint64) string {
	id := fmt.Sprintf("5AB1C0DE-0000-4000-8000-%012X", n)
	if p == TC3 {
		return strings.ToLower(id)
	}
	return id
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): net/http's documented way to abort a response.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

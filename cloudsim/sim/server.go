package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	// a fake clock to make rate limits and lifecycles exact.
	Now func() time.Time
}

// Server is the simulated cloud: an http.Handler answering Alibaba RPC and Tencent TC3
// requests for its products, plus GET /_sim/calls and GET /_sim/state.
type Server struct {
	mu sync.Mutex

	clock     func() time.Time
	scale     float64
	realStart time.Time

	accounts  []*Account
	byKey     map[string]*Account // cloud + "/" + key id
	durations map[string]time.Duration

	products []*productEntry
	rpc      map[string][]*productEntry // by API version
	tc3      map[string]*productEntry   // by service + "/" + version

	limits *limiter
	faults *faults
	lags   map[string]time.Duration // visibility lag by state key

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
	var c *call
	if r.Header.Get("X-TC-Action") != "" || strings.HasPrefix(r.Header.Get("Authorization"), "TC3-") {
		c = s.parseTC3(r)
	} else {
		c = s.parseRPC(r)
	}
	a := s.handle(r.Context(), c)
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
		return s.errorAnswer(c, throttled(c.proto))
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
		if !hit.Apply {
			if a, ok := s.faultAnswer(c, hit.Fault); ok {
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
	} else if fa, ok := s.faultAnswer(c, hit.Fault); ok { // apply: true
		a = fa
		s.markLost(c, hit.Fault)
	}
	return a
}

// faultAnswer is the answer an error fault sends instead of the product's; ok is false
// for faults that do not replace the answer.
func (s *Server) faultAnswer(c *call, f FaultKind) (answer, bool) {
	switch f {
	case FaultInternalError:
		return s.errorAnswer(c, Errorf(http.StatusInternalServerError, "InternalError", "The request processing has failed due to some unknown error, exception or failure.")), true
	case FaultUnavailable:
		a := s.errorAnswer(c, Errorf(http.StatusServiceUnavailable, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."))
		a.status = http.StatusServiceUnavailable // TC3 too: a gateway failure, not an API error
		return a, true
	case FaultThrottle:
		return s.errorAnswer(c, throttled(c.proto)), true
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
	return answer{status: http.StatusOK, body: body}
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
	}{c.rec.RequestID, c.rec.host, e.Code, e.Message})
	status := e.Status
	if status < 300 {
		status = http.StatusBadRequest
	}
	return answer{status: status, body: body, code: e.Code}
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

// rpcCommon are the RPC parameters the server consumes; products never see them.
var rpcCommon = map[string]bool{
	"AccessKeyId": true, "Signature": true, "SignatureMethod": true, "SignatureVersion": true,
	"SignatureNonce": true, "SignatureType": true, "Timestamp": true, "Version": true,
	"Action": true, "Format": true, "SecurityToken": true, "BearerToken": true,
}

// idParams are the parameters that name the instance a call targets, for fault rules and
// CallRecord.Instance.
var idParams = []string{"InstanceId", "DBInstanceId", "ServiceInstanceId"}

func (s *Server) parseRPC(r *http.Request) *call {
	c := &call{proto: RPC}
	c.rec.host = r.Host
	c.rec.Protocol = RPC
	params := r.URL.Query()
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if err := r.ParseForm(); err != nil {
			c.refusal = Errorf(http.StatusBadRequest, "InvalidParameter", "the form body cannot be parsed: %v", err)
			return c
		}
		for k, vs := range r.PostForm {
			params[k] = append(params[k], vs...)
		}
	}
	c.rec.Action = params.Get("Action")
	c.rec.Region = params.Get("RegionId")
	productParams := url.Values{}
	c.rec.Params = map[string]string{}
	for k, vs := range params {
		if !rpcCommon[k] {
			productParams[k] = vs
			c.rec.Params[k] = vs[0]
		}
	}
	for _, k := range idParams {
		if v := params.Get(k); v != "" {
			c.rec.Instance = v
			break
		}
	}
	// Name the product before authenticating, so refused calls are logged against it.
	version := params.Get("Version")
	entries := s.rpc[version]
	for _, e := range entries {
		if act := e.actions[c.rec.Action]; act != nil {
			c.entry, c.action = e, act
			break
		}
	}
	if c.entry != nil {
		c.rec.Product = c.entry.p.Name()
	} else if len(entries) > 0 {
		c.rec.Product = entries[0].p.Name()
	}
	for _, k := range []string{"AccessKeyId", "Signature", "Action", "Version"} {
		if params.Get(k) == "" {
			c.refusal = Errorf(http.StatusBadRequest, "MissingParameter", "The input parameter %q that is mandatory for processing this request is not supplied.", k)
			return c
		}
	}
	acct := s.byKey["alibaba/"+params.Get("AccessKeyId")]
	if acct == nil {
		c.refusal = Errorf(http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
		return c
	}
	c.rec.Account = acct.Name
	toSign := rpcStringToSign(r.Method, params)
	if !hmacEqual(rpcSignature(toSign, acct.Secret), params.Get("Signature")) {
		c.refusal = Errorf(http.StatusBadRequest, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:%s", toSign)
		return c
	}
	if len(entries) == 0 {
		c.refusal = Errorf(http.StatusBadRequest, "InvalidVersion", "Specified parameter Version is not valid.")
		return c
	}
	if c.entry == nil {
		c.refusal = Errorf(http.StatusNotFound, "InvalidApi.NotFound", "Specified api is not found, please check your url and method.")
		return c
	}
	c.req = &Request{Action: c.rec.Action, Account: acct, Region: c.rec.Region, Params: productParams}
	return c
}

func (s *Server) parseTC3(r *http.Request) *call {
	c := &call{proto: TC3}
	c.rec.host = r.Host
	c.rec.Protocol = TC3
	c.rec.Action = r.Header.Get("X-TC-Action")
	c.rec.Region = r.Header.Get("X-TC-Region")
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		c.refusal = Errorf(http.StatusBadRequest, "InvalidParameter", "the request body cannot be read: %v", err)
		return c
	}
	c.rec.Params = map[string]string{}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) == nil {
		for k, raw := range fields {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				c.rec.Params[k] = str
			} else {
				c.rec.Params[k] = string(raw)
			}
		}
	}
	c.rec.Instance = c.rec.Params["InstanceId"]
	if r.Method != http.MethodPost {
		c.refusal = Errorf(http.StatusOK, "UnsupportedProtocol", "The simulator takes TC3 requests as POST with a JSON body.")
		return c
	}
	auth, ok := parseTC3Auth(r.Header.Get("Authorization"))
	if !ok {
		c.refusal = Errorf(http.StatusOK, "AuthFailure.InvalidAuthorization", "Check the Authorization header: it must be TC3-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=....")
		return c
	}
	c.rec.Product = auth.service
	acct := s.byKey["tencent/"+auth.secretID]
	if acct == nil {
		c.refusal = Errorf(http.StatusOK, "AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure that your SecretId is correct.")
		return c
	}
	c.rec.Account = acct.Name
	if !tc3Verify(r, body, auth, acct.Secret) {
		c.refusal = Errorf(http.StatusOK, "AuthFailure.SignatureFailure", "The provided credentials could not be validated. Please check your signature is correct.")
		return c
	}
	if c.rec.Action == "" {
		c.refusal = Errorf(http.StatusOK, "MissingParameter", "The X-TC-Action header is missing.")
		return c
	}
	e := s.tc3[auth.service+"/"+r.Header.Get("X-TC-Version")]
	if e == nil {
		c.refusal = Errorf(http.StatusOK, "NoSuchVersion", "The API version %q of service %q does not exist.", r.Header.Get("X-TC-Version"), auth.service)
		return c
	}
	c.entry, c.action = e, e.actions[c.rec.Action]
	if c.action == nil {
		c.refusal = Errorf(http.StatusOK, "InvalidAction", "The API %s does not exist.", c.rec.Action)
		return c
	}
	c.req = &Request{Action: c.rec.Action, Account: acct, Region: c.rec.Region, Params: url.Values{}, Body: body}
	return c
}

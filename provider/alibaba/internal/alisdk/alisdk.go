// Package alisdk is the one place where upgradeplan's Alibaba Cloud providers (kafka, mongodb,
// rabbitmq, computenest) meet the Alibaba SDK core (github.com/aliyun/alibaba-cloud-sdk-go/sdk).
// It owns:
//
//   - building an *sdk.Client for one (region, account): the SDK's default credential chain
//     when the account is the default one, else the AccessKey pair read from the account's
//     SecretRefs at client creation; AutoRetry off; connect and read timeouts set;
//   - the endpoint: UPGRADEPLAN_ALIBABA_ENDPOINT (host:port, plain HTTP) when set, else the
//     product's real endpoint over HTTPS, stamped on every request (req.Domain, req.Scheme)
//     so the SDK never resolves endpoints over the network;
//   - a client Pool, because one sdk.Client is not safe for concurrent calls: each call takes
//     a client, up to Options.Clients are created lazily, and the client goes back after;
//   - Invoke, which runs one SDK call through the provider.Doer with panic recovery and
//     turns every failure into a classified *provider.Error (see Classify);
//   - the SignatureNonce source: the SDK's seam for it is set to 128 random bits
//     (nonce.go), in place of a hash of the goroutine id parsed from runtime.Stack.
//
// Product packages use it like this (a fresh request object per attempt, since the SDK
// mutates requests while sending and the Doer may send more than once):
//
//	pool, err := alisdk.NewPool(cfg, alisdk.Options{Kind: "alibaba.kafka", Endpoint: alisdk.Regional("alikafka")})
//	var resp *alikafka.GetInstanceListResponse
//	err = pool.Invoke(ctx, alisdk.Call{Action: "GetInstanceList", CheckSuccess: true},
//		func() (requests.AcsRequest, responses.AcsResponse) {
//			req := alikafka.CreateGetInstanceListRequest()
//			req.RegionId = cfg.Region
//			resp = alikafka.CreateGetInstanceListResponse()
//			return req, resp
//		})
//
// It must not know any product's rules, and it never logs: a secret read here only goes
// into the SDK's credential provider.
package alisdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	chain "github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials/provider"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"

	"github.com/upgradeplan/upgradeplan/provider"
)

// EndpointEnv redirects every Alibaba client to host:port over plain HTTP (the simulator).
const EndpointEnv = "UPGRADEPLAN_ALIBABA_ENDPOINT"

// DefaultClients is Options.Clients' default. Timeouts are provider.Timeouts: connect 5s,
// answer 10s, or UPGRADEPLAN_CONNECT_TIMEOUT and UPGRADEPLAN_ANSWER_TIMEOUT.
const DefaultClients = 8

// Options describe one product for NewPool.
type Options struct {
	// Kind is the provider kind ("alibaba.kafka"), used in Doer requests and errors.
	Kind string
	// Endpoint returns the product's real endpoint host for a region
	// ("alikafka.cn-hangzhou.aliyuncs.com"). Ignored when EndpointEnv is set.
	Endpoint func(region string) string
	// Clients caps how many SDK clients the pool creates (default DefaultClients). Calls
	// beyond it wait for a client to come back.
	Clients int
	// ConnectTimeout bounds dialing (default: provider.Timeouts); the answer timeout is
	// provider.Timeouts (provider.Config.Timeout, the environment, 10s).
	ConnectTimeout time.Duration
}

// Regional returns an Endpoint func for a product whose endpoint is
// "<code>.<region>.aliyuncs.com", with per-region exceptions from the SDK's endpoint map
// (e.g. alikafka.GetEndpointMap()), which may be nil.
func Regional(code string, exceptions ...map[string]string) func(region string) string {
	return func(region string) string {
		for _, m := range exceptions {
			if host, ok := m[region]; ok && host != "" {
				return host
			}
		}
		return code + "." + region + ".aliyuncs.com"
	}
}

// Pool hands out SDK clients for one (product, region, account), one caller at a time per
// client. A Pool is safe for concurrent use.
type Pool struct {
	kind    string
	region  string
	account string
	doer    provider.Doer
	domain  string // host[:port] stamped on every request
	scheme  string // "HTTP" for the simulator, "HTTPS" for real endpoints
	create  func() (*sdk.Client, error)
	// silence gives up on an endpoint that never answered (see provider.Silence).
	silence *provider.Silence

	idle  chan *sdk.Client
	slots chan struct{} // one token per client created
}

// NewPool opens a pool for cfg. It creates the first client at once, so that missing
// credentials (an unset {fromEnv} variable, an empty default chain) are reported here,
// before any call, by variable name and never by value.
func NewPool(cfg provider.Config, opt Options) (*Pool, error) {
	if opt.Kind == "" {
		return nil, errors.New("alisdk: Options.Kind is empty")
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("%s: region is empty", opt.Kind)
	}
	n := opt.Clients
	if n <= 0 {
		n = DefaultClients
	}
	connect, read, err := provider.Timeouts(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opt.Kind, err)
	}
	if opt.ConnectTimeout > 0 {
		connect = opt.ConnectTimeout
	}
	doer := cfg.Doer
	if doer == nil {
		doer = provider.Direct
	}
	p := &Pool{
		kind:    opt.Kind,
		region:  cfg.Region,
		account: cfg.Account.Name,
		doer:    doer,
		idle:    make(chan *sdk.Client, n),
		slots:   make(chan struct{}, n),
	}
	p.silence = &provider.Silence{Connect: connect, Answer: read, EnvVar: EndpointEnv}
	if ep := strings.TrimSpace(cfg.Env()(EndpointEnv)); ep != "" {
		if err := provider.CheckEndpoint(EndpointEnv, ep); err != nil {
			return nil, fmt.Errorf("%s: %w", opt.Kind, err)
		}
		p.domain, p.scheme = ep, "HTTP"
		p.silence.Variable = EndpointEnv
	} else {
		if opt.Endpoint == nil {
			return nil, fmt.Errorf("%s: no endpoint for region %s", opt.Kind, cfg.Region)
		}
		p.domain, p.scheme = opt.Endpoint(cfg.Region), "HTTPS"
	}
	p.silence.Endpoint = p.domain

	newCredential, err := credentialFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: credentials for region %s: %w", opt.Kind, cfg.Region, err)
	}
	p.create = func() (*sdk.Client, error) {
		c, err := newCredential(cfg.Region, p.scheme)
		if err != nil {
			return nil, err
		}
		c.SetConnectTimeout(connect)
		c.SetReadTimeout(read)
		if p.scheme == "HTTP" && proxyInEnv() {
			// Never send simulator traffic through an HTTP_PROXY from the environment. The
			// SDK compiles the no-proxy patterns at every call (its own, else NO_PROXY's), so
			// they are set only when the environment names a proxy or exceptions at all.
			c.SetNoProxy(regexp.QuoteMeta(p.domain))
		}
		return c, nil
	}

	first, err := p.create()
	if err != nil {
		return nil, fmt.Errorf("%s: credentials for region %s: %w", opt.Kind, cfg.Region, err)
	}
	p.slots <- struct{}{}
	p.idle <- first
	return p, nil
}

// Domain is the endpoint every request is sent to (host or host:port).
func (p *Pool) Domain() string { return p.domain }

// Scheme is "HTTP" (simulator) or "HTTPS" (real endpoint).
func (p *Pool) Scheme() string { return p.scheme }

// Region is the pool's region.
func (p *Pool) Region() string { return p.region }

// proxyInEnv reports whether the environment sets a variable the SDK reads for plain HTTP
// proxying at every call (sdk.Client.getHttpProxy, getNoProxy).
func proxyInEnv() bool {
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"} {
		if os.Getenv(k) != "" {
			return true
		}
	}
	return false
}

// clientFactory builds one configured client for a region and scheme.
type clientFactory func(region, scheme string) (*sdk.Client, error)

// sdkConfig is a client's configuration. Each client has a transport of its own, since the
// SDK writes its dialer and TLS settings into the transport at every call; a client makes
// one call at a time, so one idle connection per host is all it reuses.
func sdkConfig(scheme string) *sdk.Config {
	t := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	if scheme == "HTTP" {
		t.Proxy = nil // the simulator: never through a proxy from the environment
	}
	return sdk.NewConfig().
		WithAutoRetry(false). // retries belong to the executor, after re-reading state
		WithMaxRetryTime(0).
		WithScheme(scheme).
		WithHttpTransport(t)
}

// credentialFor picks the credential source once, so every client of the pool uses the same.
func credentialFor(cfg provider.Config) (clientFactory, error) {
	if cfg.Account.Default() {
		return defaultChainClient, nil
	}
	getenv := cfg.Env()
	if (cfg.Account.KeyID.FromEnv == "" && cfg.Account.KeyIDLiteral == "") || cfg.Account.Secret.FromEnv == "" {
		return nil, fmt.Errorf("account %s: both accessKeyId and accessKeySecret must be set", cfg.Account.Name)
	}
	// Resolve now so a missing variable is reported before any call; resolve again at
	// every client creation so a rotated key is picked up by new clients. A key id may be
	// written out in the manifest (it is not secret); the secret always comes from the
	// environment.
	if _, err := cfg.Account.ResolveKeyID(getenv); err != nil {
		return nil, fmt.Errorf("account %s: accessKeyId: %w", cfg.Account.Name, err)
	}
	if _, err := cfg.Account.Secret.Resolve(getenv); err != nil {
		return nil, fmt.Errorf("account %s: accessKeySecret: %w", cfg.Account.Name, err)
	}
	return func(region, scheme string) (*sdk.Client, error) {
		id, err := cfg.Account.ResolveKeyID(getenv)
		if err != nil {
			return nil, fmt.Errorf("account %s: accessKeyId: %w", cfg.Account.Name, err)
		}
		secret, err := cfg.Account.Secret.Resolve(getenv)
		if err != nil {
			return nil, fmt.Errorf("account %s: accessKeySecret: %w", cfg.Account.Name, err)
		}
		return sdk.NewClientWithOptions(region, sdkConfig(scheme), credentials.NewAccessKeyCredential(id, secret))
	}, nil
}

// defaultChainClient uses the SDK's default provider chain (the chain sdk.NewClientWithProvider
// uses: ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, the ~/.alibabacloud/credentials file, the ECS RAM
// role named by ALIBABA_CLOUD_ECS_METADATA), then the aliyun CLI profile
// (~/.aliyun/config.json, ALIBABA_CLOUD_PROFILE), which that chain does not cover. It
// resolves the chain itself, as InitWithProviderChain does, so the client gets our config
// (no auto-retry, our transport) from the start.
func defaultChainClient(region, scheme string) (*sdk.Client, error) {
	cred, chainErr := chain.DefaultChain.Resolve()
	if chainErr == nil {
		return sdk.NewClientWithOptions(region, sdkConfig(scheme), cred)
	}
	cli := credentials.NewCLIProfileCredentialsProviderBuilder().Build()
	if _, err := cli.GetCredentials(); err != nil {
		return nil, fmt.Errorf("default credential chain: %v; aliyun CLI profile: %v", chainErr, err)
	}
	return sdk.NewClientWithOptions(region, sdkConfig(scheme), cli)
}

// get takes an idle client or creates one while fewer than the cap exist.
func (p *Pool) get(ctx context.Context) (*sdk.Client, error) {
	select {
	case c := <-p.idle:
		return c, nil
	default:
	}
	select {
	case c := <-p.idle:
		return c, nil
	case p.slots <- struct{}{}:
		c, err := p.create()
		if err != nil {
			<-p.slots
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *Pool) put(c *sdk.Client) { p.idle <- c }

// Call names one API call for the Doer and for errors.
type Call struct {
	Action   string
	Instance string // the instance a mutating call changes; "" for reads
	Mutating bool
	// CheckSuccess makes an HTTP 200 answer whose body says "Success": false an error
	// (alikafka answers refusals this way).
	CheckSuccess bool
	// Secrets are resolved secret values the request carries (a {fromEnv} parameter). No
	// error Invoke returns, nor any the Doer sees, repeats one or any part of one: they
	// are masked in every encoding before a message is cut short.
	Secrets []string
}

// Attempt builds one attempt's fresh request and response objects.
type Attempt func() (requests.AcsRequest, responses.AcsResponse)

// Invoke sends one API call through the pool's Doer. For each attempt the Doer makes, it
// builds a fresh request with attempt, stamps the endpoint and scheme on it, takes a client
// from the pool, runs the SDK call with panic recovery and returns the client. Every error
// it returns is a *provider.Error (see Classify), carrying the kind, action and instance,
// and none carries call.Secrets.
func (p *Pool) Invoke(ctx context.Context, call Call, attempt Attempt) error {
	req := provider.Request{
		Kind:     p.kind,
		Account:  p.account,
		Region:   p.region,
		Action:   call.Action,
		Mutating: call.Mutating,
		Instance: call.Instance,
	}
	err := p.doer.Do(ctx, req, func(ctx context.Context) error {
		return p.send(ctx, call, attempt)
	})
	if err == nil {
		return nil
	}
	if pe, ok := provider.AsError(err); ok {
		return pe
	}
	// The Doer's own errors (a cancelled context while waiting for a token, ...).
	return &provider.Error{
		Class:    provider.ClassOf(err),
		Kind:     p.kind,
		Action:   call.Action,
		Instance: call.Instance,
		Message:  err.Error(),
		Err:      err,
	}
}

func (p *Pool) send(ctx context.Context, call Call, attempt Attempt) (err error) {
	if err := ctx.Err(); err != nil {
		return p.wrap(call, &provider.Error{Class: provider.ClassPermanent, Message: err.Error(), Err: err})
	}
	c, err := p.get(ctx)
	if err != nil {
		return p.wrap(call, &provider.Error{Class: provider.ClassPermanent, Message: err.Error(), Err: err})
	}
	// A client that panicked mid-call may hold half-updated state: drop it and free its
	// slot so a new one is created, instead of returning it to the pool.
	healthy := false
	defer func() {
		if healthy {
			p.put(c)
		} else {
			<-p.slots
		}
	}()
	req, resp := attempt()
	req.SetDomain(p.domain)
	req.SetScheme(p.scheme)
	panicked, sdkErr := doAction(c, req, resp)
	if panicked != nil {
		return p.wrap(call, panicError(call, panicked))
	}
	healthy = true
	if ctx.Err() == nil {
		answered := sdkErr == nil || resp.GetHttpStatus() != 0 || Classify(sdkErr, false).HTTPStatus != 0
		if giveUp := p.silence.Observe(answered, sdkErr); giveUp != nil {
			return p.wrap(call, &provider.Error{Class: provider.ClassPermanent, Code: CodeNetwork, Message: giveUp.Error(), Err: sdkErr})
		}
	}
	// Check the body before the SDK's error: a refusal whose Code is a string cannot be
	// decoded into the SDK's numeric Code field, and the body says more than that failure.
	if call.CheckSuccess && resp.GetHttpStatus() == 200 {
		if pe := CheckSuccess(resp.GetHttpContentBytes()); pe != nil {
			return p.wrap(call, pe)
		}
	}
	if sdkErr != nil {
		return p.wrap(call, classify(sdkErr, call.Mutating, call.Secrets))
	}
	return nil
}

// doAction runs the SDK call, recovering a panic inside it.
func doAction(c *sdk.Client, req requests.AcsRequest, resp responses.AcsResponse) (panicked any, err error) {
	defer func() { panicked = recover() }()
	return nil, c.DoAction(req, resp)
}

// wrap fills the call's identity into a classified error and masks the call's secrets in
// it, before the Doer (which may log it) sees it.
func (p *Pool) wrap(call Call, pe *provider.Error) *provider.Error {
	pe = scrubSecrets(pe, call.Secrets)
	pe.Kind = p.kind
	pe.Action = call.Action
	pe.Instance = call.Instance
	return pe
}

// panicError turns a panic inside the SDK (e.g. errors.NewServerError on a numeric Code)
// into an error. For a mutating call the request may have been sent and accepted, so its
// outcome is unknown; a read that panics would panic again, so it is permanent.
func panicError(call Call, r any) *provider.Error {
	class := provider.ClassPermanent
	if call.Mutating {
		class = provider.ClassUnknown
	}
	return &provider.Error{
		Class:   class,
		Code:    CodeSDKPanic,
		Message: fmt.Sprintf("the Alibaba SDK panicked: %v", r),
	}
}

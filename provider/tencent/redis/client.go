package redis

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	tcredis "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/redis/v20180412"
	"github.com/upgradeplan/upgradeplan/provider"
)

// EndpointEnv redirects every Tencent client to host:port over plain HTTP (the simulator).
const EndpointEnv = "UPGRADEPLAN_TENCENT_ENDPOINT"

// newClient opens one SDK client for cfg.Region: X-TC-Region comes from the client, so a
// provider (one region) has exactly one. The Tencent client holds no per-call state, so it
// is shared by concurrent calls; every call builds a fresh request object, and the
// credential is wrapped in a lockedCredential.
func newClient(cfg provider.Config) (*tcredis.Client, *provider.Silence, error) {
	if cfg.Region == "" {
		return nil, nil, fmt.Errorf("redis: open client: region is empty")
	}
	cred, err := credential(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("redis: open client for %s: %w", cfg.Region, err)
	}
	return newClientWith(cfg, cred)
}

// newClientWith opens the client with a resolved credential.
func newClientWith(cfg provider.Config, cred common.CredentialIface) (*tcredis.Client, *provider.Silence, error) {
	connect, timeout, err := provider.Timeouts(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("redis: open client for %s: %w", cfg.Region, err)
	}
	cpf := profile.NewClientProfile()
	cpf.Language = "en-US"
	// The executor decides what to retry, after re-reading state: the SDK must never
	// re-send an UpgradeInstance on its own.
	cpf.UnsafeRetryOnConnectionFailure = false
	cpf.NetworkFailureMaxRetries = 0
	cpf.RateLimitExceededMaxRetries = 0
	cpf.DisableRegionBreaker = true
	cpf.HttpProfile.ReqTimeout = int(math.Ceil(timeout.Seconds()))
	silence := &provider.Silence{Connect: connect, Answer: timeout, Endpoint: Endpoint(cfg.Region), EnvVar: EndpointEnv}
	if ep := strings.TrimSpace(cfg.Env()(EndpointEnv)); ep != "" {
		if err := provider.CheckEndpoint(EndpointEnv, ep); err != nil {
			return nil, nil, fmt.Errorf("redis: open client for %s: %w", cfg.Region, err)
		}
		cpf.HttpProfile.Endpoint = ep
		cpf.HttpProfile.Scheme = "HTTP"
		silence.Endpoint, silence.Variable = ep, EndpointEnv
	} else {
		cpf.HttpProfile.Endpoint = Endpoint(cfg.Region)
		cpf.HttpProfile.Scheme = "HTTPS"
	}
	client, err := tcredis.NewClient(&lockedCredential{cred: cred}, cfg.Region, cpf)
	if err != nil {
		return nil, nil, fmt.Errorf("redis: open client for %s: %w", cfg.Region, err)
	}
	// ReqTimeout counts whole seconds; the transport holds the exact connect and answer
	// timeouts. The region's calls share this one client: it keeps as many idle
	// connections as the steps in flight may use at once (polls and calls of a burst),
	// so a later burst reuses them instead of dialing (and, over HTTPS, a TLS handshake)
	// each one again; idle ones close after IdleConnTimeout. rawBody (rawbody.go) hands
	// DescribeInstances pages to their lean decoder.
	client.WithHttpTransport(rawBody{&http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: connect}).DialContext,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   maxIdleConns,
		IdleConnTimeout:       90 * time.Second,
	}})
	return client, silence, nil
}

// maxIdleConns is how many idle connections the region's client keeps to its endpoint.
const maxIdleConns = 256

// Endpoint is the API host for a region: the financial-zone regions (ap-shanghai-fsi,
// ap-shenzhen-fsi) have their own, redis.<region>.tencentcloudapi.com; every other region
// is served by redis.tencentcloudapi.com.
func Endpoint(region string) string {
	if strings.HasSuffix(region, "-fsi") {
		return "redis." + region + ".tencentcloudapi.com"
	}
	return "redis.tencentcloudapi.com"
}

// lockedCredential makes a credential safe for the concurrent calls of one shared client:
// the SDK's CVM-role and role-ARN credentials refresh themselves inside their getters by
// overwriting the whole struct without a lock, so a call signing during another's refresh
// could read a torn key pair. Every getter runs under one mutex, and the signer's
// GetCredential returns id, key and token from one refresh.
type lockedCredential struct {
	mu   sync.Mutex
	cred common.CredentialIface
}

func (c *lockedCredential) GetCredential() (string, string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cred.GetCredential()
}

func (c *lockedCredential) GetSecretId() string {
	id, _, _ := c.GetCredential()
	return id
}

func (c *lockedCredential) GetSecretKey() string {
	_, key, _ := c.GetCredential()
	return key
}

func (c *lockedCredential) GetToken() string {
	_, _, token := c.GetCredential()
	return token
}

// credential resolves the account: the SDK's default chain (TENCENTCLOUD_SECRET_ID/KEY, the
// credentials file, the CVM role) for the default account, else the account's SecretRefs.
// Errors name variables, never values.
func credential(cfg provider.Config) (common.CredentialIface, error) {
	env := cfg.Env()
	if cfg.Account.Default() {
		// A caller-supplied Getenv is honoured first, so tests and embedders can set the
		// chain's variables without touching the process environment.
		if cfg.Getenv != nil {
			id, key := env("TENCENTCLOUD_SECRET_ID"), env("TENCENTCLOUD_SECRET_KEY")
			if id != "" && key != "" {
				return common.NewCredential(id, key), nil
			}
		}
		cred, err := common.DefaultProviderChain().GetCredential()
		if err != nil {
			return nil, fmt.Errorf("default credential chain (TENCENTCLOUD_SECRET_ID/TENCENTCLOUD_SECRET_KEY, ~/.tencentcloud/credentials, CVM role): %w", err)
		}
		return cred, nil
	}
	name := cfg.Account.Name
	id, err := cfg.Account.ResolveKeyID(env)
	if err != nil {
		return nil, fmt.Errorf("account %s secretId: %w", name, err)
	}
	key, err := cfg.Account.Secret.Resolve(env)
	if err != nil {
		return nil, fmt.Errorf("account %s secretKey: %w", name, err)
	}
	return common.NewCredential(id, key), nil
}

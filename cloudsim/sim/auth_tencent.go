package sim

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tencent Cloud API 3.0 takes three signing forms, all answered {"Response": ...}:
//
//   - TC3-HMAC-SHA256 over POST with a JSON body (every SDK's default);
//   - TC3-HMAC-SHA256 over GET, the parameters flattened into the query
//     ("InstanceIds.0=crs-1"), the canonical query being the query as sent;
//   - signature v1, HmacSHA256 or HmacSHA1: every parameter, the common ones included
//     (Action, Nonce, SecretId, Timestamp, ...), flattened in the query (GET) or a form
//     body (POST), signed as base64(HMAC(secret, METHOD + host + path + "?" + k=v&...))
//     over the sorted, unencoded pairs.
//
// A request whose time is more than five minutes from the server's clock is refused
// with AuthFailure.SignatureExpire (Tencent's documented limit).

// tencentSkew is how far X-TC-Timestamp or Timestamp may be from the clock.
const tencentSkew = 5 * time.Minute

// tencentCommon are the v1 and GET parameters the server consumes; products never see
// them.
var tencentCommon = map[string]bool{
	"Action": true, "Version": true, "Region": true, "Timestamp": true, "Nonce": true,
	"SecretId": true, "SignatureMethod": true, "Signature": true, "Token": true,
	"Language": true, "RequestClient": true,
}

// tc3Auth is a parsed TC3-HMAC-SHA256 Authorization header.
type tc3Auth struct {
	secretID      string
	date, service string
	signedHeaders []string
	signature     string
}

// parseTC3Auth parses
// "TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=a;b, Signature=HEX".
func parseTC3Auth(h string) (tc3Auth, bool) {
	var a tc3Auth
	rest, ok := strings.CutPrefix(h, "TC3-HMAC-SHA256 ")
	if !ok {
		return a, false
	}
	f, ok := authFields(rest)
	if !ok {
		return a, false
	}
	if cred := strings.Split(f["Credential"], "/"); len(cred) == 4 && cred[3] == "tc3_request" {
		a.secretID, a.date, a.service = cred[0], cred[1], cred[2]
	}
	if f["SignedHeaders"] != "" {
		a.signedHeaders = strings.Split(f["SignedHeaders"], ";")
	}
	a.signature = f["Signature"]
	ok = a.secretID != "" && a.date != "" && a.service != "" && len(a.signedHeaders) > 0 && a.signature != ""
	return a, ok
}

// signedHosts are the host values a client may have signed: the Go SDK signs
// "host:port", the Node SDK the host name alone; real endpoints never see a port.
func signedHosts(host string) []string {
	hosts := []string{host}
	if h, _, err := net.SplitHostPort(host); err == nil {
		hosts = append(hosts, h)
	}
	return hosts
}

// tc3Verify reports whether the request's signature matches the secret, as
// common/client.go sendWithSignatureV3 and the Node SDK's sign3 compute it. A GET's
// canonical query is its query string as sent.
func tc3Verify(r *http.Request, body []byte, a tc3Auth, secret string) bool {
	payloadHash := sha256hex(body)
	if r.Header.Get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD" {
		payloadHash = sha256hex([]byte("UNSIGNED-PAYLOAD"))
	}
	for _, host := range signedHosts(r.Host) {
		var canon strings.Builder
		for _, name := range a.signedHeaders {
			name = strings.ToLower(strings.TrimSpace(name))
			v := r.Header.Get(name)
			if name == "host" {
				v = host
			}
			canon.WriteString(name + ":" + strings.ToLower(strings.TrimSpace(v)) + "\n")
		}
		query := ""
		if r.Method == http.MethodGet {
			query = r.URL.RawQuery
		}
		canonical := strings.Join([]string{
			r.Method, "/", query, canon.String(), strings.Join(a.signedHeaders, ";"), payloadHash,
		}, "\n")
		scope := a.date + "/" + a.service + "/tc3_request"
		toSign := "TC3-HMAC-SHA256\n" + r.Header.Get("X-TC-Timestamp") + "\n" + scope + "\n" + sha256hex([]byte(canonical))
		key := hmacSHA256([]byte("TC3"+secret), a.date)
		key = hmacSHA256(key, a.service)
		key = hmacSHA256(key, "tc3_request")
		want := hex.EncodeToString(hmacSHA256(key, toSign))
		if hmac.Equal([]byte(want), []byte(strings.ToLower(a.signature))) {
			return true
		}
	}
	return false
}

// v1StringToSign is METHOD + host + path + "?" + the sorted k=v pairs (unencoded, first
// value each) of every parameter but Signature.
func v1StringToSign(method, host, path string, p url.Values) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + p.Get(k)
	}
	return method + host + path + "?" + strings.Join(pairs, "&")
}

// v1Verify checks a signature v1 request (HmacSHA1 when SignatureMethod is absent).
func v1Verify(r *http.Request, p url.Values, secret string) bool {
	var h func() hash.Hash
	switch p.Get("SignatureMethod") {
	case "", "HmacSHA1":
		h = sha1.New
	case "HmacSHA256":
		h = sha256.New
	default:
		return false
	}
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	for _, host := range signedHosts(r.Host) {
		m := hmac.New(h, []byte(secret))
		m.Write([]byte(v1StringToSign(r.Method, host, path, p)))
		if hmacEqual(base64.StdEncoding.EncodeToString(m.Sum(nil)), p.Get("Signature")) {
			return true
		}
	}
	return false
}

// isTencentV1 reports whether a request without a TC3 header is signature v1.
func isTencentV1(in *incoming) bool {
	p := in.params()
	return p.Get("SecretId") != "" && p.Get("Signature") != "" && p.Get("AccessKeyId") == ""
}

// isTencent reports whether a request is Tencent's, in any signing form.
func isTencent(r *http.Request, in *incoming) bool {
	return r.Header.Get("X-TC-Action") != "" || strings.HasPrefix(r.Header.Get("Authorization"), "TC3-") || isTencentV1(in)
}

// tencentAuth is what any of the three forms yields once parsed.
type tencentAuth struct {
	secretID, service, version, timestamp string
	date                                  string // TC3's credential scope date
	flat                                  url.Values
	verify                                func(secret string) bool
}

func tencentAuthOf(r *http.Request, in *incoming, c *call) (tencentAuth, *APIError) {
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, "TC3-") && isTencentV1(in) {
		p := in.query
		if r.Method == http.MethodPost {
			p = in.form
		}
		c.rec.Action, c.rec.Region = p.Get("Action"), p.Get("Region")
		return tencentAuth{
			secretID: p.Get("SecretId"), service: serviceOfHost(r.Host), version: p.Get("Version"),
			timestamp: p.Get("Timestamp"), flat: p,
			verify: func(secret string) bool { return v1Verify(r, p, secret) },
		}, nil
	}
	c.rec.Action, c.rec.Region = r.Header.Get("X-TC-Action"), r.Header.Get("X-TC-Region")
	a, ok := parseTC3Auth(h)
	if !ok {
		return tencentAuth{}, Errorf(http.StatusOK, "AuthFailure.InvalidAuthorization", "Check the Authorization header: it must be TC3-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=....")
	}
	t := tencentAuth{
		secretID: a.secretID, service: a.service, version: r.Header.Get("X-TC-Version"),
		timestamp: r.Header.Get("X-TC-Timestamp"), date: a.date,
		verify: func(secret string) bool { return tc3Verify(r, in.body, a, secret) },
	}
	switch r.Method {
	case http.MethodPost:
	case http.MethodGet:
		t.flat = in.query
	default:
		return t, Errorf(http.StatusOK, "UnsupportedProtocol", "HTTP method %s is not supported: use POST or GET.", r.Method)
	}
	return t, nil
}

// serviceOfHost is the service a v1 request's host names ("redis" for
// redis.tencentcloudapi.com), "" for a bare address.
func serviceOfHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if net.ParseIP(host) != nil || !strings.HasSuffix(host, ".tencentcloudapi.com") {
		return ""
	}
	service, _, _ := strings.Cut(host, ".")
	return service
}

// checkTencentTime refuses a Timestamp more than five minutes from now.
func checkTencentTime(ts string, now time.Time) *APIError {
	if ts == "" {
		return Errorf(http.StatusOK, "MissingParameter", "The request is missing a required parameter `Timestamp`.")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Errorf(http.StatusOK, "InvalidParameterValue", "The Timestamp %q is not a UNIX time in seconds.", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tencentSkew || d < -tencentSkew {
		return Errorf(http.StatusOK, "AuthFailure.SignatureExpire", "Signature expired. Timestamp and server time cannot differ by more than five minutes (Timestamp %d, server time %d).", sec, now.Unix())
	}
	return nil
}

func (s *Server) parseTencent(r *http.Request, in *incoming) *call {
	c := &call{proto: TC3}
	c.rec.host = r.Host
	c.rec.Protocol = TC3
	if in.err != nil {
		c.refusal = Errorf(http.StatusOK, "InvalidParameter", "the request cannot be read: %v", in.err)
		return c
	}
	auth, refusal := tencentAuthOf(r, in, c)
	productFlat := url.Values{}
	for k, vs := range auth.flat {
		if !tencentCommon[k] {
			productFlat[k] = vs
		}
	}
	c.rec.Params = map[string]string{}
	if auth.flat != nil {
		for k, vs := range productFlat {
			c.rec.Params[k] = vs[0]
		}
	} else {
		c.rec.Params = topLevelFields(in.body)
	}
	c.rec.unmasked, c.rec.Params = c.rec.Params, maskParams(c.rec.Params)
	c.rec.Instance = c.rec.Params["InstanceId"]
	if refusal != nil {
		c.refusal = refusal
		return c
	}
	c.rec.Product = auth.service
	if e := checkTencentTime(auth.timestamp, s.wall()); e != nil {
		c.refusal = e
		return c
	}
	acct := s.byKey["tencent/"+auth.secretID]
	if acct == nil {
		c.refusal = Errorf(http.StatusOK, "AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure that your SecretId is correct.")
		return c
	}
	c.rec.Account = acct.Name
	if !auth.verify(acct.Secret) {
		c.refusal = Errorf(http.StatusOK, "AuthFailure.SignatureFailure", "The provided credentials could not be validated. Please check your signature is correct.")
		return c
	}
	if sec, _ := strconv.ParseInt(auth.timestamp, 10, 64); auth.date != "" && auth.date != time.Unix(sec, 0).UTC().Format("2006-01-02") {
		c.refusal = Errorf(http.StatusOK, "AuthFailure.SignatureFailure", "The credential scope date %s is not the UTC date of X-TC-Timestamp %s.", auth.date, auth.timestamp)
		return c
	}
	if c.rec.Action == "" {
		c.refusal = Errorf(http.StatusOK, "MissingParameter", "The request is missing a required parameter `Action`.")
		return c
	}
	e := s.tencentProduct(auth.service, auth.version, c.rec.Action)
	if e == nil {
		c.refusal = Errorf(http.StatusOK, "NoSuchVersion", "The API version %q of service %q does not exist.", auth.version, auth.service)
		return c
	}
	c.rec.Product = e.p.Name()
	c.entry, c.action = e, e.actions[c.rec.Action]
	if c.action == nil {
		c.refusal = Errorf(http.StatusOK, "InvalidAction", "The API %s does not exist.", c.rec.Action)
		return c
	}
	model := requestModel(e.p, c.rec.Action)
	body := in.body
	if auth.flat != nil {
		var err *APIError
		if body, err = unflatten(productFlat, model); err != nil {
			c.refusal = err
			return c
		}
	} else if model != nil {
		if name := unknownParameter(body, model); name != "" {
			c.refusal = Errorf(http.StatusOK, "UnknownParameter", "The parameter `%s` is not recognized.", name)
			return c
		}
	}
	c.req = &Request{Action: c.rec.Action, Account: acct, Region: c.rec.Region, Params: url.Values{}, Body: body}
	return c
}

// tencentProduct finds the product a request is for: by the signed service (TC3) or the
// host's (v1), else — a v1 request to a bare address names no service — the one product
// of that version that has the action.
func (s *Server) tencentProduct(service, version, action string) *productEntry {
	if service != "" {
		return s.tc3[service+"/"+version]
	}
	var found *productEntry
	for _, e := range s.products {
		if e.p.Protocol() == TC3 && e.p.Version() == version {
			if e.actions[action] != nil {
				return e
			}
			found = e
		}
	}
	return found
}

// topLevelFields are a JSON body's top-level fields: strings as they are, anything else
// as compact JSON.
func topLevelFields(body []byte) map[string]string {
	out := map[string]string{}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) == nil {
		for k, raw := range fields {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				out[k] = str
			} else {
				out[k] = string(raw)
			}
		}
	}
	return out
}

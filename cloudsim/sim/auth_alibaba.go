package sim

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Alibaba's two signing forms, as its current SDKs send them:
//
//   - RPC HMAC-SHA1 (alibaba-cloud-sdk-go, the aliyun CLI): AccessKeyId, Signature,
//     SignatureNonce and Timestamp are parameters, in the query or a form body, over GET
//     or POST; the signature covers every parameter.
//   - ACS3-HMAC-SHA256 (the Tea/darabonba SDKs, openapi-util GetAuthorization): the
//     action, version, date and nonce are x-acs-* headers and the signature is in
//     "Authorization: ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=HEX",
//     over a canonical request of method, path, sorted query, the signed headers and
//     the body's SHA-256.
//
// Both are refused when their time is more than 15 minutes from the server's clock
// (InvalidTimeStamp.Expired) or their nonce was used before (SignatureNonceUsed).

const (
	acs3Algorithm = "ACS3-HMAC-SHA256"
	// alibabaSkew is how far a request's Timestamp or x-acs-date may be from the clock.
	alibabaSkew = 15 * time.Minute
	// alibabaTimeLayout is ISO 8601 in UTC, as every Alibaba SDK writes it.
	alibabaTimeLayout = "2006-01-02T15:04:05Z"
)

// rpcStringToSign computes the StringToSign of an Alibaba RPC request exactly as
// sdk/auth/rpc_signature_composer.go does: every parameter but Signature, sorted and
// form-encoded, with the SDK's three replacements, then escaped once more behind
// "METHOD&%2F&".
func rpcStringToSign(method string, params url.Values) string {
	signed := url.Values{}
	for k, vs := range params {
		if k != "Signature" {
			signed[k] = vs
		}
	}
	return method + "&%2F&" + url.QueryEscape(percentRFC3986(signed.Encode()))
}

// percentRFC3986 turns form encoding into RFC 3986 percent-encoding, as Alibaba's
// signers do: space as %20, '*' escaped, '~' kept.
func percentRFC3986(s string) string {
	s = strings.ReplaceAll(s, "+", "%20")
	s = strings.ReplaceAll(s, "*", "%2A")
	return strings.ReplaceAll(s, "%7E", "~")
}

// rpcSignature is base64(HMAC-SHA1(secret + "&", stringToSign)).
func rpcSignature(stringToSign, secret string) string {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// acs3Auth is a parsed ACS3-HMAC-SHA256 Authorization header.
type acs3Auth struct {
	keyID         string
	signedHeaders []string
	signature     string
}

// parseACS3Auth parses "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=HEX"
// (spaces after the commas tolerated).
func parseACS3Auth(h string) (acs3Auth, bool) {
	var a acs3Auth
	rest, ok := strings.CutPrefix(h, acs3Algorithm+" ")
	if !ok {
		return a, false
	}
	f, ok := authFields(rest)
	if !ok {
		return a, false
	}
	a.keyID, a.signature = f["Credential"], strings.ToLower(f["Signature"])
	if f["SignedHeaders"] != "" {
		a.signedHeaders = strings.Split(f["SignedHeaders"], ";")
	}
	return a, a.keyID != "" && len(a.signedHeaders) > 0 && a.signature != ""
}

// acs3StringToSign builds the canonical request of an ACS3 request and returns
// "ACS3-HMAC-SHA256\n" + hex(SHA-256(canonical request)); payloadHash is the body's
// hex SHA-256.
func acs3StringToSign(r *http.Request, payloadHash string, signedHeaders []string) string {
	query := r.URL.Query()
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range query {
			if !yield(k) {
				return
			}
		}
	})
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, percentRFC3986(url.QueryEscape(k))+"="+percentRFC3986(url.QueryEscape(query.Get(k))))
	}
	var headers strings.Builder
	for _, name := range signedHeaders {
		vals := r.Header.Values(name)
		if name == "host" {
			vals = []string{r.Host}
		}
		trimmed := make([]string, len(vals))
		for i, v := range vals {
			trimmed[i] = strings.TrimSpace(v)
		}
		slices.Sort(trimmed)
		headers.WriteString(name + ":" + strings.Join(trimmed, ",") + "\n")
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/" // as openapi-util does for an empty pathname
	}
	canonical := strings.Join([]string{
		r.Method, path, strings.Join(pairs, "&"), headers.String(), strings.Join(signedHeaders, ";"), payloadHash,
	}, "\n")
	return acs3Algorithm + "\n" + sha256hex([]byte(canonical))
}

// acs3Signature is hex(HMAC-SHA256(secret, stringToSign)).
func acs3Signature(stringToSign, secret string) string {
	return hex.EncodeToString(hmacSHA256([]byte(secret), stringToSign))
}

// acs3MustSign are the headers an ACS3 request must sign: without them a signature
// would not bind the action, the time or the nonce.
var acs3MustSign = []string{"host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"}

// alibabaAuth is what either signing form yields once parsed.
type alibabaAuth struct {
	keyID, action, version, timestamp, nonce string
	// verify reports whether the signature matches the secret; toSign is the server's
	// string to sign, quoted back in SignatureDoesNotMatch as Alibaba does.
	verify func(secret string) (ok bool, toSign string)
}

// rpcAuth reads the RPC HMAC-SHA1 form from the parameters.
func rpcAuth(r *http.Request, params url.Values) (alibabaAuth, *APIError) {
	for _, k := range []string{"AccessKeyId", "Signature", "Action", "Version", "Timestamp", "SignatureNonce"} {
		if params.Get(k) == "" {
			return alibabaAuth{}, missingParameter(k)
		}
	}
	if m := params.Get("SignatureMethod"); m != "" && m != "HMAC-SHA1" {
		return alibabaAuth{}, Errorf(http.StatusBadRequest, "InvalidSignatureMethod", "Specified signature method %q is not supported; RPC requests are signed with HMAC-SHA1.", m)
	}
	return alibabaAuth{
		keyID: params.Get("AccessKeyId"), action: params.Get("Action"), version: params.Get("Version"),
		timestamp: params.Get("Timestamp"), nonce: params.Get("SignatureNonce"),
		verify: func(secret string) (bool, string) {
			toSign := rpcStringToSign(r.Method, params)
			return hmacEqual(rpcSignature(toSign, secret), params.Get("Signature")), toSign
		},
	}, nil
}

// acs3AuthOf reads the ACS3-HMAC-SHA256 form from the headers.
func acs3AuthOf(r *http.Request, body []byte) (alibabaAuth, *APIError) {
	a, ok := parseACS3Auth(r.Header.Get("Authorization"))
	if !ok {
		return alibabaAuth{}, Errorf(http.StatusBadRequest, "IncompleteSignature",
			"The request signature does not conform to Alibaba Cloud standards: want Authorization: ACS3-HMAC-SHA256 Credential=...,SignedHeaders=...,Signature=...")
	}
	for _, h := range acs3MustSign {
		if !slices.Contains(a.signedHeaders, h) {
			return alibabaAuth{}, Errorf(http.StatusBadRequest, "IncompleteSignature", "The request signature does not sign the header %s.", h)
		}
	}
	for _, k := range []string{"x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"} {
		if r.Header.Get(k) == "" {
			return alibabaAuth{}, missingParameter(k)
		}
	}
	if h := r.Header.Get("x-acs-content-sha256"); h != "" && !strings.EqualFold(h, sha256hex(body)) {
		return alibabaAuth{}, Errorf(http.StatusBadRequest, "SignatureDoesNotMatch", "The x-acs-content-sha256 header does not match the request body.")
	}
	return alibabaAuth{
		keyID: a.keyID, action: r.Header.Get("x-acs-action"), version: r.Header.Get("x-acs-version"),
		timestamp: r.Header.Get("x-acs-date"), nonce: r.Header.Get("x-acs-signature-nonce"),
		verify: func(secret string) (bool, string) {
			toSign := acs3StringToSign(r, sha256hex(body), a.signedHeaders)
			return hmacEqual(acs3Signature(toSign, secret), a.signature), toSign
		},
	}, nil
}

func missingParameter(name string) *APIError {
	return Errorf(http.StatusBadRequest, "MissingParameter", "The input parameter %q that is mandatory for processing this request is not supplied.", name)
}

// checkAlibabaTime refuses a Timestamp that is not ISO 8601 UTC or is more than 15
// minutes from now, either way.
func checkAlibabaTime(ts string, now time.Time) *APIError {
	t, err := time.Parse(alibabaTimeLayout, ts)
	if err != nil {
		return Errorf(http.StatusBadRequest, "InvalidTimeStamp.Format", "Specified time stamp or date value %q is not well formatted: want ISO 8601 UTC like 2006-01-02T15:04:05Z.", ts)
	}
	if d := now.Sub(t); d > alibabaSkew || d < -alibabaSkew {
		return Errorf(http.StatusBadRequest, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired: %s is more than 15 minutes from the server time %s.", ts, now.UTC().Format(alibabaTimeLayout))
	}
	return nil
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

// parseAlibaba authenticates and routes an Alibaba request of either signing form.
// Parameters come from the query and a form body alike.
func (s *Server) parseAlibaba(r *http.Request, in *incoming) *call {
	c := &call{proto: RPC}
	c.rec.host = r.Host
	c.rec.Protocol = RPC
	if in.err != nil {
		c.refusal = Errorf(http.StatusBadRequest, "InvalidParameter", "the request cannot be read: %v", in.err)
		return c
	}
	params := in.params()
	var auth alibabaAuth
	var refusal *APIError
	if strings.HasPrefix(r.Header.Get("Authorization"), "ACS3-") {
		auth, refusal = acs3AuthOf(r, in.body)
	} else {
		auth, refusal = rpcAuth(r, params)
	}
	c.rec.Action = auth.action
	if c.rec.Action == "" {
		c.rec.Action = params.Get("Action")
	}
	c.rec.Region = params.Get("RegionId")
	productParams := url.Values{}
	c.rec.Params = map[string]string{}
	for k, vs := range params {
		if !rpcCommon[k] {
			productParams[k] = vs
			c.rec.Params[k] = vs[0]
		}
	}
	c.rec.unmasked, c.rec.Params = c.rec.Params, maskParams(c.rec.Params)
	for _, k := range idParams {
		if v := params.Get(k); v != "" {
			c.rec.Instance = v
			break
		}
	}
	// Name the product before authenticating, so refused calls are logged against it.
	version := auth.version
	if version == "" {
		version = params.Get("Version")
	}
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
	if refusal != nil {
		c.refusal = refusal
		return c
	}
	if e := checkAlibabaTime(auth.timestamp, s.wall()); e != nil {
		c.refusal = e
		return c
	}
	acct := s.byKey["alibaba/"+auth.keyID]
	if acct == nil {
		c.refusal = Errorf(http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
		return c
	}
	c.rec.Account = acct.Name
	if ok, toSign := auth.verify(acct.Secret); !ok {
		c.refusal = Errorf(http.StatusBadRequest, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:%s", toSign)
		return c
	}
	if !s.nonces.use(acct.Name+"\x00"+auth.nonce, s.wall()) {
		c.refusal = Errorf(http.StatusBadRequest, "SignatureNonceUsed", "Specified signature nonce was used already.")
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

package sim_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// Hand-built signers for every form the vendors' current SDKs use, written from the
// published signing specifications (Alibaba's RPC and V3 request signatures, Tencent's
// signature v1 and v3), independently of the server's code.

// RequestParams gives the TC3 test product a request model for Echo, so the server
// types flattened parameters and refuses unknown ones.
func (w *widgets) RequestParams(action string) map[string]string {
	if w.proto != string(sim.TC3) || action != "Echo" {
		return nil
	}
	return map[string]string{
		"InstanceId": "string", "Limit": "integer", "Flag": "boolean", "Note": "string",
		"InstanceIds": "array<string>", "InstanceTags": "array<object>",
		"InstanceTags[].TagKey": "string", "InstanceTags[].TagValue": "string",
		"Parameters": "string", "LoginPassword": "string",
	}
}

// signing is who signs a request, when, and with which nonce.
type signing struct {
	keyID, secret string
	at            time.Time
	nonce         string
}

// form is one way of sending a request: it builds an Echo request carrying the
// parameters (flattened for the RPC-style forms, JSON for TC3 POST).
type form struct {
	name    string
	tencent bool
	build   func(base string, s signing, params map[string]any) *http.Request
}

// percent is RFC 3986 percent-encoding: unreserved characters kept, every other byte
// as %XX in upper case.
func percent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func macOf(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// flatten turns parameters into the RPC-style flat form: lists as Name.N (from start),
// objects in lists as Name.N.Key.
func flatten(params map[string]any, start int) url.Values {
	out := url.Values{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case []any:
			for i, e := range x {
				walk(prefix+"."+strconv.Itoa(i+start), e)
			}
		case map[string]any:
			for k, e := range x {
				walk(prefix+"."+k, e)
			}
		default:
			out.Set(prefix, fmt.Sprint(x))
		}
	}
	for k, v := range params {
		walk(k, v)
	}
	return out
}

func sortedPairs(p url.Values, enc func(string) string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = enc(k) + "=" + enc(p.Get(k))
	}
	return strings.Join(pairs, "&")
}

// aliRPC signs with HMAC-SHA1 over "METHOD&%2F&" + percent(sorted pairs); the parameters
// go in the query or in a form body.
func aliRPC(method string, inForm bool) func(string, signing, map[string]any) *http.Request {
	return func(base string, s signing, params map[string]any) *http.Request {
		p := flatten(params, 1)
		p.Set("Action", "Echo")
		p.Set("Version", rpcVersion)
		p.Set("Format", "JSON")
		p.Set("AccessKeyId", s.keyID)
		p.Set("SignatureMethod", "HMAC-SHA1")
		p.Set("SignatureVersion", "1.0")
		p.Set("SignatureNonce", s.nonce)
		p.Set("Timestamp", s.at.UTC().Format("2006-01-02T15:04:05Z"))
		p.Set("RegionId", "cn-hangzhou")
		toSign := method + "&" + percent("/") + "&" + percent(sortedPairs(p, percent))
		p.Set("Signature", base64.StdEncoding.EncodeToString(macOf(sha1.New, []byte(s.secret+"&"), toSign)))
		if inForm {
			req, _ := http.NewRequest(method, base+"/", strings.NewReader(p.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		}
		req, _ := http.NewRequest(method, base+"/?"+p.Encode(), nil)
		return req
	}
}

// aliACS3 signs with ACS3-HMAC-SHA256: hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" +
// hex(SHA-256(method \n / \n sorted query \n headers \n signed names \n body hash)))).
func aliACS3(method string, inForm bool) func(string, signing, map[string]any) *http.Request {
	return func(base string, s signing, params map[string]any) *http.Request {
		p := flatten(params, 1)
		p.Set("RegionId", "cn-hangzhou")
		body, query := "", p
		if inForm {
			body, query = p.Encode(), url.Values{}
		}
		req, _ := http.NewRequest(method, base+"/?"+sortedPairs(query, percent), strings.NewReader(body))
		headers := map[string]string{
			"host":                  req.URL.Host,
			"x-acs-action":          "Echo",
			"x-acs-version":         rpcVersion,
			"x-acs-date":            s.at.UTC().Format("2006-01-02T15:04:05Z"),
			"x-acs-signature-nonce": s.nonce,
			"x-acs-content-sha256":  sha256Hex(body),
		}
		if inForm {
			headers["content-type"] = "application/x-www-form-urlencoded"
		}
		names := make([]string, 0, len(headers))
		for k := range headers {
			names = append(names, k)
		}
		sort.Strings(names)
		var canon strings.Builder
		for _, k := range names {
			canon.WriteString(k + ":" + headers[k] + "\n")
			if k != "host" {
				req.Header.Set(k, headers[k])
			}
		}
		signed := strings.Join(names, ";")
		cr := strings.Join([]string{method, "/", sortedPairs(query, percent), canon.String(), signed, sha256Hex(body)}, "\n")
		sig := hex.EncodeToString(macOf(sha256.New, []byte(s.secret), "ACS3-HMAC-SHA256\n"+sha256Hex(cr)))
		req.Header.Set("Authorization", "ACS3-HMAC-SHA256 Credential="+s.keyID+",SignedHeaders="+signed+",Signature="+sig)
		return req
	}
}

// tcTC3 signs with TC3-HMAC-SHA256: a JSON body (POST) or the flattened parameters in
// the query (GET), signing content-type and host.
func tcTC3(method string) func(string, signing, map[string]any) *http.Request {
	return func(base string, s signing, params map[string]any) *http.Request {
		body, query, ct := "", "", "application/x-www-form-urlencoded"
		if method == http.MethodPost {
			b, _ := json.Marshal(params)
			body, ct = string(b), "application/json"
		} else {
			query = flatten(params, 0).Encode()
		}
		u := base + "/"
		if query != "" {
			u += "?" + query
		}
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		ts := strconv.FormatInt(s.at.Unix(), 10)
		date := s.at.UTC().Format("2006-01-02")
		cr := method + "\n/\n" + query + "\ncontent-type:" + ct + "\nhost:" + req.URL.Host + "\n\ncontent-type;host\n" + sha256Hex(body)
		scope := date + "/gadgets/tc3_request"
		toSign := "TC3-HMAC-SHA256\n" + ts + "\n" + scope + "\n" + sha256Hex(cr)
		key := macOf(sha256.New, macOf(sha256.New, macOf(sha256.New, []byte("TC3"+s.secret), date), "gadgets"), "tc3_request")
		sig := hex.EncodeToString(macOf(sha256.New, key, toSign))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("X-TC-Action", "Echo")
		req.Header.Set("X-TC-Version", tc3Version)
		req.Header.Set("X-TC-Region", "ap-shanghai")
		req.Header.Set("X-TC-Timestamp", ts)
		req.Header.Set("Authorization", "TC3-HMAC-SHA256 Credential="+s.keyID+"/"+scope+", SignedHeaders=content-type;host, Signature="+sig)
		return req
	}
}

// tcV1 signs with signature v1: base64(HMAC(secret, METHOD + host + "/?" + sorted,
// unencoded k=v pairs)), every common parameter among them.
func tcV1(method, signMethod string) func(string, signing, map[string]any) *http.Request {
	return func(base string, s signing, params map[string]any) *http.Request {
		p := flatten(params, 0)
		p.Set("Action", "Echo")
		p.Set("Version", tc3Version)
		p.Set("Region", "ap-shanghai")
		p.Set("Timestamp", strconv.FormatInt(s.at.Unix(), 10))
		p.Set("Nonce", strconv.Itoa(rand.IntN(1<<31)))
		p.Set("SecretId", s.keyID)
		h := sha1.New
		if signMethod != "" {
			p.Set("SignatureMethod", signMethod)
			if signMethod == "HmacSHA256" {
				h = sha256.New
			}
		}
		host := strings.TrimPrefix(base, "http://")
		toSign := method + host + "/?" + sortedPairs(p, func(s string) string { return s })
		p.Set("Signature", base64.StdEncoding.EncodeToString(macOf(h, []byte(s.secret), toSign)))
		if method == http.MethodPost {
			req, _ := http.NewRequest(method, base+"/", strings.NewReader(p.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		}
		req, _ := http.NewRequest(method, base+"/?"+p.Encode(), nil)
		return req
	}
}

var forms = []form{
	{"Alibaba RPC HMAC-SHA1 over GET", false, aliRPC(http.MethodGet, false)},
	{"Alibaba RPC HMAC-SHA1 over POST with a form body", false, aliRPC(http.MethodPost, true)},
	{"Alibaba RPC HMAC-SHA1 over POST with the query", false, aliRPC(http.MethodPost, false)},
	{"Alibaba ACS3-HMAC-SHA256 over POST with the query", false, aliACS3(http.MethodPost, false)},
	{"Alibaba ACS3-HMAC-SHA256 over POST with a form body", false, aliACS3(http.MethodPost, true)},
	{"Alibaba ACS3-HMAC-SHA256 over GET", false, aliACS3(http.MethodGet, false)},
	{"Tencent TC3 over POST with JSON", true, tcTC3(http.MethodPost)},
	{"Tencent TC3 over GET", true, tcTC3(http.MethodGet)},
	{"Tencent v1 HmacSHA256 over GET", true, tcV1(http.MethodGet, "HmacSHA256")},
	{"Tencent v1 HmacSHA256 over POST", true, tcV1(http.MethodPost, "HmacSHA256")},
	{"Tencent v1 HmacSHA1 over GET", true, tcV1(http.MethodGet, "")},
}

// credentials are the test state's keys for a form's cloud.
func (f form) credentials(nonce string) signing {
	if f.tencent {
		return signing{keyID: "test-id", secret: "test-key", at: time.Now(), nonce: nonce}
	}
	return signing{keyID: "test-ak", secret: "test-sk", at: time.Now(), nonce: nonce}
}

// reply is an answer as a client sees it, with the error in its cloud's shape.
type reply struct {
	status int
	raw    string
	body   map[string]any // Alibaba's object, or Tencent's Response
	code   string
}

func send(t *testing.T, f form, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, raw: string(raw)}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("answer %q is not JSON", raw)
	}
	if f.tencent {
		// Tencent's shape, whatever happened: HTTP 200 {"Response": {..., "RequestId"}}
		// with any error in Response.Error; never Alibaba's top-level Code.
		inner, ok := doc["Response"].(map[string]any)
		if !ok || len(doc) != 1 || resp.StatusCode != 200 || inner["RequestId"] == nil {
			t.Fatalf("a Tencent request got a non-Tencent answer: HTTP %d %s", resp.StatusCode, raw)
		}
		r.body = inner
		if e, ok := inner["Error"].(map[string]any); ok {
			r.code, _ = e["Code"].(string)
		}
		return r
	}
	if _, ok := doc["Response"]; ok {
		t.Fatalf("an Alibaba request got a Tencent-shaped answer: %s", raw)
	}
	r.body = doc
	if resp.StatusCode != 200 {
		r.code, _ = doc["Code"].(string)
		for _, k := range []string{"RequestId", "HostId", "Code", "Message", "Recommend"} {
			if s, _ := doc[k].(string); s == "" {
				t.Errorf("Alibaba error answer lacks %s: %s", k, raw)
			}
		}
		if rec, _ := doc["Recommend"].(string); !strings.Contains(rec, "q="+url.QueryEscape(r.code)) {
			t.Errorf("Recommend %q does not name the code %s", rec, r.code)
		}
	}
	return r
}

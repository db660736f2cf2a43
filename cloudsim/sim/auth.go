package sim

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strings"
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
	s := signed.Encode()
	s = strings.ReplaceAll(s, "+", "%20")
	s = strings.ReplaceAll(s, "*", "%2A")
	s = strings.ReplaceAll(s, "%7E", "~")
	return method + "&%2F&" + url.QueryEscape(s)
}

// rpcSignature is base64(HMAC-SHA1(secret + "&", stringToSign)).
func rpcSignature(stringToSign, secret string) string {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
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
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, false
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 4 || f[3] != "tc3_request" {
				return a, false
			}
			a.secretID, a.date, a.service = f[0], f[1], f[2]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	ok = a.secretID != "" && a.date != "" && a.service != "" && len(a.signedHeaders) > 0 && a.signature != ""
	return a, ok
}

// tc3Verify reports whether the request's signature matches the secret, as
// common/client.go sendWithSignatureV3 computes it. The Go SDK signs "host:port" and
// Tencent's Node SDK the host name alone; real endpoints never see a port, so both are
// accepted.
func tc3Verify(r *http.Request, body []byte, a tc3Auth, secret string) bool {
	payloadHash := sha256hex(body)
	if r.Header.Get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD" {
		payloadHash = sha256hex([]byte("UNSIGNED-PAYLOAD"))
	}
	hosts := []string{r.Host}
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		hosts = append(hosts, h)
	}
	for _, host := range hosts {
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

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func hmacEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

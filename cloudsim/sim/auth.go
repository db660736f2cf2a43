package sim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// The signing forms themselves are in auth_alibaba.go and auth_tencent.go; these are the
// hashes they share.

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

// authFields splits an Authorization header's "K=V, K=V" list behind the algorithm
// name (spaces after the commas tolerated); ok is false for a part without "=".
func authFields(list string) (map[string]string, bool) {
	f := map[string]string{}
	for part := range strings.SplitSeq(list, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, false
		}
		f[k] = v
	}
	return f, true
}

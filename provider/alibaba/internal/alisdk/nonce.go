package alisdk

import (
	"crypto/rand"
	"encoding/hex"
	_ "unsafe" // go:linkname

	_ "github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth" // hookGetNonce's package
)

// hookGetNonce is the SDK's own seam for the SignatureNonce of RPC requests
// (auth.hookGetNonce, which its tests replace). Its default, utils.GetNonce, hashes the
// goroutine's id parsed from runtime.Stack, which formats the caller's whole stack: tens of
// microseconds a call, the largest share of the SDK's CPU. The SDK still signs every
// request; only the nonce's source changes. Should the SDK drop the seam, this fails to
// link, loudly.
//
//go:linkname hookGetNonce github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth.hookGetNonce
var hookGetNonce func(fn func() string) string

func init() {
	hookGetNonce = func(func() string) string { return nonce() }
}

// nonce is 128 random bits in hex: 32 lowercase hex digits, as utils.GetNonce's MD5 is,
// unique per request for the API's replay check (SignatureNonceUsed).
func nonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

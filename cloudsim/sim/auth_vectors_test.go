package sim

import (
	"net/http"
	"net/url"
	"testing"
)

// The server's signature computations reproduce the vendors' own test vectors, so a
// request an official signer makes is accepted.
func TestSignaturesMatchTheVendorsOwnTestVectors(t *testing.T) {
	// aliyun/darabonba-openapi-util golang/service/service_test.go Test_GetRPCSignature:
	// {"test": "ok"}, method "", secret "accessKeySecret".
	if got := rpcSignature(rpcStringToSign("", url.Values{"test": {"ok"}}), "accessKeySecret"); got != "jHx/oHoHNrbVfhncHEvPdHXZwHU=" {
		t.Errorf("RPC HMAC-SHA1 signature %s, want the vendor's jHx/oHoHNrbVfhncHEvPdHXZwHU=", got)
	}
	// The same file's Test_GetAuthorization: query test=ok and empty="", the headers
	// x-acs-test: http and x-acs-TEST: https, the given payload hash, secret "secret".
	r := &http.Request{URL: &url.URL{RawQuery: "test=ok&empty="}, Header: http.Header{}}
	r.Header.Add("x-acs-test", "http")
	r.Header.Add("x-acs-TEST", "https")
	toSign := acs3StringToSign(r, "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23", []string{"x-acs-test"})
	if got := acs3Signature(toSign, "secret"); got != "4ab59fffe3c5738ff8a2729f90cc04fe18b02a4b15b2102cbaf92f9ff3df2ea3" {
		t.Errorf("ACS3-HMAC-SHA256 signature %s, want the vendor's 4ab59fff…", got)
	}
}

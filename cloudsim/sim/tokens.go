package sim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// This file holds the two token mechanisms of Alibaba's newer APIs (amqp-open and
// computenestsupplier answer them alike): NextToken paging and ClientToken idempotency.

// MaxResults reads a MaxResults parameter's value: a page size from 1 to 100.
func MaxResults(raw string) (int, error) {
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 100 {
		return 0, Errorf(http.StatusBadRequest, "InvalidParameter.MaxResults", "MaxResults must be between 1 and 100, got %q.", raw)
	}
	return n, nil
}

// NextTokenAfter returns the instance id the request's NextToken continues after ("" for
// the first page). A NextToken the simulator did not issue is InvalidParameter.NextToken.
func NextTokenAfter(r *Request) (string, error) {
	tok := r.Params.Get("NextToken")
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 {
		return "", Errorf(http.StatusBadRequest, "InvalidParameter.NextToken", "The NextToken %q is invalid.", tok)
	}
	return string(b), nil
}

// encodeNextToken is the NextToken of the page after the instance id.
func encodeNextToken(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// ClientTokens remembers a product's accepted calls by account and ClientToken, so that a
// retry with the same token and parameters gets the first answer and changes nothing, and
// a reuse of the token with other parameters is refused. Make it with make(ClientTokens).
type ClientTokens map[string]tokenCall

type tokenCall struct {
	fingerprint string
	answer      any
}

func tokenKey(r *Request, token string) string { return r.Account.Name + "\x00" + token }

// Replay returns the answer to the account's earlier call with the token, if there was
// one with the same parameters; one with other parameters is IdempotentParameterMismatch.
// An empty token never replays.
func (c ClientTokens) Replay(r *Request, token string) (answer any, seen bool, err error) {
	if token == "" {
		return nil, false, nil
	}
	rec, seen := c[tokenKey(r, token)]
	if !seen {
		return nil, false, nil
	}
	if rec.fingerprint != fingerprint(r.Params) {
		return nil, true, Errorf(http.StatusBadRequest, "IdempotentParameterMismatch", "The ClientToken %s was used with different parameters.", token)
	}
	return rec.answer, true, nil
}

// Remember records the answer to an accepted call under the account's token (an empty
// token records nothing).
func (c ClientTokens) Remember(r *Request, token string, answer any) {
	if token != "" {
		c[tokenKey(r, token)] = tokenCall{fingerprint: fingerprint(r.Params), answer: answer}
	}
}

// fingerprint identifies a request's parameters apart from its ClientToken.
func fingerprint(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "ClientToken" && k != "RegionId" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q;", k, params[k])
	}
	return b.String()
}

package sim_test

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

func request(acct string, params url.Values) *sim.Request {
	return sim.NewRequest("List", &sim.Account{Name: acct}, "cn-hangzhou", params, nil, time.Time{}, nil)
}

func code(err error) string {
	var apiErr *sim.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code
	}
	return ""
}

func TestAForeignNextTokenIsInvalid(t *testing.T) {
	_, err := sim.NextTokenAfter(request("a", url.Values{"NextToken": {"not base64!"}}))
	if code(err) != "InvalidParameter.NextToken" {
		t.Errorf("got %v, want InvalidParameter.NextToken", err)
	}
}

func TestMaxResultsOutsideOneToHundredIsRefused(t *testing.T) {
	for raw, ok := range map[string]bool{"1": true, "100": true, "0": false, "101": false, "ten": false} {
		_, err := sim.MaxResults(raw)
		if (err == nil) != ok || (err != nil && code(err) != "InvalidParameter.MaxResults") {
			t.Errorf("MaxResults(%q): %v", raw, err)
		}
	}
}

func TestClientTokenReplaysTheFirstAnswerPerAccount(t *testing.T) {
	tokens := sim.ClientTokens{}
	first := url.Values{"InstanceId": {"i-1"}, "ClientToken": {"t"}}
	tokens.Remember(request("a", first), "t", "first answer")

	tests := []struct {
		name     string
		acct     string
		params   url.Values
		wantSeen bool
		want     any
		wantCode string
	}{
		{"a retry with the same parameters gets the first answer", "a", url.Values{"InstanceId": {"i-1"}, "ClientToken": {"t"}, "RegionId": {"cn-beijing"}}, true, "first answer", ""},
		{"the token with other parameters is a mismatch", "a", url.Values{"InstanceId": {"i-2"}, "ClientToken": {"t"}}, true, nil, "IdempotentParameterMismatch"},
		{"another account's token of the same name is new", "b", first, false, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, seen, err := tokens.Replay(request(tc.acct, tc.params), "t")
			if seen != tc.wantSeen || got != tc.want || code(err) != tc.wantCode {
				t.Errorf("Replay = %v, %v, %v; want %v, %v, code %q", got, seen, err, tc.want, tc.wantSeen, tc.wantCode)
			}
		})
	}
	if _, seen, _ := tokens.Replay(request("a", first), ""); seen {
		t.Error("a call without a token was answered from the token store")
	}
}

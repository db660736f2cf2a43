package sim_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// echoParams exercise the encodings: spaces and reserved characters, a list, a list of
// objects, an integer and a boolean.
var echoParams = map[string]any{
	"InstanceId":   "w-1",
	"Note":         "spaces and * and ~ and +/=",
	"Limit":        5,
	"Flag":         true,
	"InstanceIds":  []any{"a-1", "a-2"},
	"InstanceTags": []any{map[string]any{"TagKey": "env", "TagValue": "prod"}},
}

func TestEverySigningFormOfTheCurrentSDKsIsAccepted(t *testing.T) {
	s, _, _ := startSim(t, sim.Options{})
	for i, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			r := send(t, f, f.build(s.URL, f.credentials("nonce-ok-"+strconv.Itoa(i)), echoParams))
			if r.code != "" || r.status != 200 {
				t.Fatalf("refused: HTTP %d %s", r.status, r.raw)
			}
			if f.tencent {
				// Flattened forms arrive typed by the action's request model, as the
				// same call over POST JSON would.
				var body map[string]any
				if err := json.Unmarshal([]byte(r.body["Body"].(string)), &body); err != nil {
					t.Fatalf("the action saw body %v: %v", r.body["Body"], err)
				}
				tags, _ := body["InstanceTags"].([]any)
				if body["Limit"] != float64(5) || body["Flag"] != true || body["Note"] != echoParams["Note"] ||
					len(body["InstanceIds"].([]any)) != 2 || len(tags) != 1 || tags[0].(map[string]any)["TagKey"] != "env" {
					t.Errorf("the action saw body %s", r.body["Body"])
				}
				return
			}
			params := r.body["Params"].(map[string]any)
			if params["Note"] != echoParams["Note"] || params["InstanceIds.2"] != "a-2" || params["InstanceTags.1.TagKey"] != "env" {
				t.Errorf("the action saw params %v", params)
			}
		})
	}
}

func TestBadCredentialsAreRefusedInEachCloudsOwnShape(t *testing.T) {
	s, _, _ := startSim(t, sim.Options{})
	n := 0
	for _, f := range forms {
		cases := []struct {
			name       string
			mutate     func(*signing)
			wantStatus int
			wantCode   string
		}{
			{"an unknown key id is not found", func(g *signing) { g.keyID = "nobody" }, 404, "InvalidAccessKeyId.NotFound"},
			{"a wrong secret does not match", func(g *signing) { g.secret = "wrong" }, 400, "SignatureDoesNotMatch"},
			{"the other cloud's key is unknown", func(g *signing) {
				if f.tencent {
					g.keyID, g.secret = "test-ak", "test-sk"
				} else {
					g.keyID, g.secret = "test-id", "test-key"
				}
			}, 404, "InvalidAccessKeyId.NotFound"},
		}
		for _, tc := range cases {
			t.Run(f.name+"/"+tc.name, func(t *testing.T) {
				n++
				g := f.credentials("nonce-bad-" + strconv.Itoa(n))
				tc.mutate(&g)
				r := send(t, f, f.build(s.URL, g, echoParams))
				want, status := tc.wantCode, tc.wantStatus
				if f.tencent {
					want = map[string]string{
						"InvalidAccessKeyId.NotFound": "AuthFailure.SecretIdNotFound",
						"SignatureDoesNotMatch":       "AuthFailure.SignatureFailure",
					}[want]
					status = 200
				}
				if r.code != want || r.status != status {
					t.Errorf("HTTP %d %s, want HTTP %d %s", r.status, r.raw, status, want)
				}
			})
		}
	}
}

func TestRequestsSignedTooLongAgoOrAheadAreRefused(t *testing.T) {
	s, _, _ := startSim(t, sim.Options{})
	n := 0
	for _, f := range forms {
		limit, want := 15*time.Minute, "InvalidTimeStamp.Expired"
		if f.tencent {
			limit, want = 5*time.Minute, "AuthFailure.SignatureExpire"
		}
		cases := []struct {
			name   string
			offset time.Duration
			ok     bool
		}{
			{"a minute inside the limit is accepted", -limit + time.Minute, true},
			{"a minute past the limit is refused", -limit - time.Minute, false},
			{"a clock a minute too far ahead is refused", limit + time.Minute, false},
		}
		for _, tc := range cases {
			t.Run(f.name+"/"+tc.name, func(t *testing.T) {
				n++
				g := f.credentials("nonce-time-" + strconv.Itoa(n))
				g.at = g.at.Add(tc.offset)
				r := send(t, f, f.build(s.URL, g, echoParams))
				if tc.ok && r.code != "" {
					t.Errorf("refused: %s", r.raw)
				}
				if !tc.ok && (r.code != want || (!f.tencent && r.status != 400)) {
					t.Errorf("HTTP %d %s, want %s", r.status, r.raw, want)
				}
			})
		}
	}
}

func TestAReplayedAlibabaRequestIsRefusedAsAUsedNonce(t *testing.T) {
	s, _, _ := startSim(t, sim.Options{})
	for _, f := range forms {
		if f.tencent {
			continue // Tencent documents no nonce check; its replay bound is the 5-minute window
		}
		t.Run(f.name, func(t *testing.T) {
			g := f.credentials("nonce-replayed-" + f.name)
			if r := send(t, f, f.build(s.URL, g, echoParams)); r.code != "" {
				t.Fatalf("the first request was refused: %s", r.raw)
			}
			r := send(t, f, f.build(s.URL, g, echoParams))
			if r.code != "SignatureNonceUsed" || r.status != 400 {
				t.Errorf("the replay got HTTP %d %s, want 400 SignatureNonceUsed", r.status, r.raw)
			}
		})
	}
	if n := s.CountOK("Echo"); n != 6 {
		t.Errorf("the action ran %d times, want once per form (6)", n)
	}
}

func TestTencentRefusesParametersTheActionsModelLacks(t *testing.T) {
	s, _, _ := startSim(t, sim.Options{})
	cases := []struct {
		name   string
		params map[string]any
		want   string // "" = accepted
	}{
		{"every parameter in the model is accepted", echoParams, ""},
		{"a top-level parameter the model lacks is refused", map[string]any{"InstanceId": "g-1", "Bogus": 1}, "UnknownParameter"},
		{"a field the model lacks inside a list element is refused", map[string]any{"InstanceTags": []any{map[string]any{"TagKey": "a", "Colour": "red"}}}, "UnknownParameter"},
		{"an integer that is not a number is refused", map[string]any{"Limit": "five"}, "InvalidParameterValue"},
	}
	n := 0
	for _, f := range forms {
		if !f.tencent {
			continue
		}
		for _, tc := range cases {
			if tc.want == "InvalidParameterValue" && strings.Contains(f.name, "JSON") {
				continue // a JSON string where a number belongs is the action's decoding error
			}
			t.Run(f.name+"/"+tc.name, func(t *testing.T) {
				n++
				r := send(t, f, f.build(s.URL, f.credentials("n"+strconv.Itoa(n)), tc.params))
				if r.code != tc.want {
					t.Errorf("got %q (%s), want %q", r.code, r.raw, tc.want)
				}
			})
		}
	}
}

func TestTheCallLogMasksSecretParameters(t *testing.T) {
	s, _, _ := startSim(t, sim.Options{})
	params := map[string]any{
		"InstanceId":    "w-1",
		"Parameters":    `{"EcsInstanceType":"ecs.g7.large","InstancePassword":"hunter2-secret-value","ApiToken":"hunter2-token","AccessKey":"hunter2-key"}`,
		"LoginPassword": "hunter2-secret-value",
	}
	for i, f := range forms {
		if r := send(t, f, f.build(s.URL, f.credentials("mask-"+strconv.Itoa(i)), params)); r.code != "" {
			t.Fatalf("%s: refused: %s", f.name, r.raw)
		}
	}
	var log []map[string]any
	raw := getJSON(t, s.URL+"/_sim/calls", &log)
	if strings.Contains(raw, "hunter2") {
		t.Errorf("/_sim/calls shows a secret: %s", raw)
	}
	if len(log) != len(forms) || !strings.Contains(raw, `ecs.g7.large`) || !strings.Contains(raw, sim.Masked) {
		t.Errorf("/_sim/calls lost the non-secret parameters or the mask: %s", raw)
	}
}

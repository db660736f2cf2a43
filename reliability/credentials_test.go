package reliability

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// accountsFleet upgrades Kafka with named credentials from REL_AK/REL_SK and Redis with the
// Tencent default chain.
const accountsFleet = `apiVersion: upgradeplan/v1
kind: Fleet
metadata: {name: creds}
settings: {pollInterval: 50ms}
accounts:
  prod-ali:
    cloud: alibaba
    accessKeyId: {fromEnv: REL_AK}
    accessKeySecret: {fromEnv: REL_SK}
targets:
  - name: kafka-hz
    kind: alibaba.kafka
    region: cn-hangzhou
    account: prod-ali
    select: {tags: {env: rel}}
    desired: {version: "2.2.0"}
  - name: cache-sh
    kind: tencent.redis
    region: ap-shanghai
    select: {tags: {env: rel}}
    desired: {memSizeMB: 8192}
`

// Credentials the cloud does not accept, or a credential variable that is not set, stop
// plan and apply at once with exit 1 and a message that names the problem: the cloud's error
// code and the request id it answered with, or the variable. Apply sends no mutating call,
// and does not retry what cannot succeed.
func TestBadCredentialsFailFastBeforeAnyUpgrade(t *testing.T) {
	good := []string{"REL_AK=demo-ak", "REL_SK=demo-sk"}
	cases := []struct {
		name string
		env  []string
		// want is in stderr; code, when set, is the error code the simulator answered,
		// and its request id must be in stderr too.
		want, code string
	}{
		{"an Alibaba access key the cloud does not know", []string{"REL_AK=nobody-ak", "REL_SK=demo-sk"},
			"InvalidAccessKeyId.NotFound", "InvalidAccessKeyId.NotFound"},
		{"an Alibaba secret that does not match the key", []string{"REL_AK=demo-ak", "REL_SK=wrong-sk"},
			"SignatureDoesNotMatch", "SignatureDoesNotMatch"},
		{"a Tencent secret id the cloud does not know", append([]string{"TENCENTCLOUD_SECRET_ID=nobody-id"}, good...),
			"AuthFailure.SecretIdNotFound", "AuthFailure.SecretIdNotFound"},
		{"an unset credential variable", []string{"REL_SK=demo-sk"}, "REL_AK", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fleetSize{kafka: 2, redis: 2}
			s := startSim(t, simState(f), "", 200)
			dir := t.TempDir()
			planPath, _ := planFleet(t, dir, cliEnv(s, good...), accountsFleet)
			bad := cliEnv(s, tc.env...)

			for _, args := range [][]string{
				{"plan", "fleet.yaml"},
				{"apply", planPath, "--out", filepath.Join(dir, "run")},
			} {
				before := len(s.Calls())
				r := cli(t, dir, bad, args...)
				calls := s.Calls()[before:]
				if r.code != 1 {
					t.Errorf("%s: want exit 1, got %s", args[0], r)
				}
				if !strings.Contains(r.stderr, tc.want) {
					t.Errorf("%s: stderr does not name %s:\n%s", args[0], tc.want, r.stderr)
				}
				if tc.code != "" {
					checkRequestIDNamed(t, args[0], r.stderr, calls, tc.code)
				} else if len(calls) > 0 && args[0] == "apply" {
					t.Errorf("apply with an unset credential variable sent %d calls, want none", len(calls))
				}
				if n := mutatingCalls(calls); n > 0 {
					t.Errorf("%s sent %d mutating calls with bad credentials", args[0], n)
				}
				if refused := countCode(calls, tc.code); tc.code != "" && refused > 2 {
					t.Errorf("%s retried a refused credential: %d calls answered %s", args[0], refused, tc.code)
				}
				if r.elapsed > 15*time.Second {
					t.Errorf("%s took %s to give up on bad credentials", args[0], r.elapsed)
				}
				if strings.Contains(r.stderr, "wrong-sk") || strings.Contains(r.stdout, "wrong-sk") {
					t.Errorf("%s printed the secret access key", args[0])
				}
			}
		})
	}
}

var requestIDPattern = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// checkRequestIDNamed fails unless stderr names the request id of a call the simulator
// answered with code.
func checkRequestIDNamed(t *testing.T, cmd, stderr string, calls []sim.CallRecord, code string) {
	t.Helper()
	ids := map[string]bool{}
	for _, c := range calls {
		if c.Code == code {
			ids[strings.ToLower(c.RequestID)] = true
		}
	}
	if len(ids) == 0 {
		t.Errorf("%s: the simulator answered no call with %s", cmd, code)
		return
	}
	for _, id := range requestIDPattern.FindAllString(stderr, -1) {
		if ids[strings.ToLower(id)] {
			return
		}
	}
	t.Errorf("%s: stderr names none of the request ids the cloud answered %s with:\n%s", cmd, code, stderr)
}

func countCode(calls []sim.CallRecord, code string) int {
	n := 0
	for _, c := range calls {
		if code != "" && c.Code == code {
			n++
		}
	}
	return n
}

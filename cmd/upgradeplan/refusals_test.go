package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upgradeplan/upgradeplan/cloudsim"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

// The documented billing, permission and quota refusals reach the run record and the
// report with the cloud's code and message, classed permanent: the step fails after one
// attempt, nothing is retried.
func TestBillingPermissionAndQuotaRefusalsReachTheReportAsPermanent(t *testing.T) {
	const state = `accounts:
  - {name: demo-ali, cloud: alibaba, keyId: demo-ak, secret: demo-sk}
  - {name: demo-tc, cloud: tencent, keyId: demo-id, secret: demo-key}
redis:
  - {id: crs-1, region: ap-shanghai, status: 2, memSizeMB: 4096, shards: 3, replicas: 2}
mongodb:
  - {id: dds-1, region: cn-hangzhou, engineVersion: "4.4", kernelVersion: mongodb_20231123_4.4.25, replicationFactor: 3}
rabbitmq:
  - {id: amqp-over, region: cn-hangzhou, instanceType: vip, maxPrivateTps: 3000, overdue: true}
  - {id: amqp-deny, region: cn-hangzhou, instanceType: vip, maxPrivateTps: 3000, updateDeniedFor: [demo-ali]}
`
	redisTarget := "  - {name: t, kind: tencent.redis, region: ap-shanghai, select: {ids: [crs-1]}, desired: {memSizeMB: 8192}}\n"
	mongoTarget := "  - {name: t, kind: alibaba.mongodb, region: cn-hangzhou, select: {ids: [dds-1]}, desired: {kernelVersion: latest}}\n"
	rabbitTarget := func(id string) string {
		return "  - {name: t, kind: alibaba.rabbitmq, region: cn-hangzhou, select: {ids: [" + id + "]}, desired: {maxPrivateTps: 5000}}\n"
	}
	tests := []struct {
		name, target, faults, code, message string
	}{
		{"Tencent: the account balance is not enough", redisTarget,
			"rules: [{product: redis, action: UpgradeInstance, fault: error, code: ResourceUnavailable.AccountBalanceNotEnough, message: The account balance is not enough.}]",
			"ResourceUnavailable.AccountBalanceNotEnough", "The account balance is not enough."},
		{"Tencent: no CAM permission", redisTarget,
			"rules: [{product: redis, action: UpgradeInstance, fault: error, code: UnauthorizedOperation.NoCAMAuthed, message: No CAM permissions.}]",
			"UnauthorizedOperation.NoCAMAuthed", "No CAM permissions."},
		{"Tencent: a quota is exceeded", redisTarget,
			"rules: [{product: redis, action: UpgradeInstance, fault: error, code: LimitExceeded, message: Quota exceeded.}]",
			"LimitExceeded", "Quota exceeded."},
		{"Alibaba: the RAM user is not authorized", mongoTarget,
			"rules: [{product: dds, action: UpgradeDBInstanceKernelVersion, fault: error, code: Forbidden.RAM, status: 403, message: User not authorized to operate on the specified resource.}]",
			"Forbidden.RAM", "User not authorized to operate on the specified resource."},
		{"Alibaba: the account's available limit is below 0", rabbitTarget("amqp-over"), "",
			"INSUFFICIENT_AVAILABLE_QUOTA", "Your account available limit is less than 0, please recharge before trying to purchase."},
		{"Alibaba: an unauthorized operation", rabbitTarget("amqp-deny"), "",
			"UnauthorizedOperation", "The request has failed due to unauthorized operation."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := simtest.Start(t, state, sim.Options{TimeScale: 3600, Faults: []byte(tc.faults)}, cloudsim.Products()...)
			s.SetEnv(t)
			t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "demo-ak")
			t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "demo-sk")
			t.Setenv("TENCENTCLOUD_SECRET_ID", "demo-id")
			t.Setenv("TENCENTCLOUD_SECRET_KEY", "demo-key")
			dir := t.TempDir()
			fleet := filepath.Join(dir, "fleet.yaml")
			manifest := "apiVersion: upgradeplan/v1\nkind: Fleet\nmetadata: {name: refusals}\ntargets:\n" + tc.target
			if err := os.WriteFile(fleet, []byte(manifest), 0o600); err != nil {
				t.Fatal(err)
			}
			plan, out := filepath.Join(dir, "plan.json"), filepath.Join(dir, "run")
			var stderr strings.Builder
			if code := runWith(context.Background(), []string{"upgradeplan", "plan", fleet, "-o", plan}, io.Discard, &stderr); code != 0 {
				t.Fatalf("plan exited %d: %s", code, stderr.String())
			}
			if code := runWith(context.Background(), []string{"upgradeplan", "apply", plan, "--out", out}, io.Discard, &stderr); code != ExitFailed {
				t.Fatalf("apply exited %d, want %d (a step failed): %s", code, ExitFailed, stderr.String())
			}
			raw, err := os.ReadFile(filepath.Join(out, "run.json"))
			if err != nil {
				t.Fatal(err)
			}
			var rec struct {
				Steps []struct {
					Status   string `json:"status"`
					Attempts int    `json:"attempts"`
					Error    struct {
						Class, Code, Message string
					} `json:"error"`
				} `json:"steps"`
			}
			if err := json.Unmarshal(raw, &rec); err != nil || len(rec.Steps) != 1 {
				t.Fatalf("run.json: %v, %d steps", err, len(rec.Steps))
			}
			st := rec.Steps[0]
			if st.Status != "failed" || st.Error.Class != "permanent" || st.Error.Code != tc.code || !strings.Contains(st.Error.Message, tc.message) || st.Attempts != 1 {
				t.Errorf("step %+v, want failed once with permanent %s %q", st, tc.code, tc.message)
			}
			report, err := os.ReadFile(filepath.Join(out, "report.md"))
			if err != nil || !strings.Contains(string(report), tc.code) || !strings.Contains(string(report), tc.message) {
				t.Errorf("report.md does not name %s and its message (%v):\n%s", tc.code, err, report)
			}
			if n := len(s.CallsTo(actionOf(tc.target))); n != 1 {
				t.Errorf("%d mutating calls, want exactly one (a permanent refusal is not retried)", n)
			}
		})
	}
}

func actionOf(target string) string {
	switch {
	case strings.Contains(target, "tencent.redis"):
		return "UpgradeInstance"
	case strings.Contains(target, "alibaba.mongodb"):
		return "UpgradeDBInstanceKernelVersion"
	}
	return "UpdateInstance"
}

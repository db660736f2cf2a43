package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/upgradeplan/upgradeplan/cloudsim"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/executor"
)

// settings.notify names webhooks in the manifest by environment variable only: the plan file
// holds the reference, never the URL (a webhook URL is a credential); apply refuses to start
// without the variable (nothing sent) and tells the webhook at the end when it is set. A
// literal URL in the manifest is refused at its position, without being echoed.
func TestSettingsNotifyKeepsTheWebhookOutOfThePlan(t *testing.T) {
	const state = `accounts:
  - {name: demo-ali, cloud: alibaba, keyId: demo-ak, secret: demo-sk}
kafka:
  - {id: alikafka-1, region: cn-hangzhou, status: running, version: 0.10.2}
`
	s := simtest.Start(t, state, sim.Options{TimeScale: 3600}, cloudsim.Products()...)
	s.SetEnv(t)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "demo-ak")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "demo-sk")
	t.Setenv(executor.LockDirEnv, t.TempDir())
	var posts atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { posts.Add(1) }))
	defer hook.Close()

	dir := t.TempDir()
	write := func(name, settings string) string {
		path := filepath.Join(dir, name)
		m := "apiVersion: upgradeplan/v1\nkind: Fleet\nmetadata: {name: hooks}\nsettings:\n" + settings +
			"targets:\n  - {name: k, kind: alibaba.kafka, region: cn-hangzhou, select: {ids: [alikafka-1]}, desired: {version: \"2.2.0\"}}\n"
		if err := os.WriteFile(path, []byte(m), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var stderr strings.Builder
	literal := write("literal.yaml", "  notify: [{format: json, url: "+hook.URL+"/T0KEN}]\n")
	if code := runWith(context.Background(), []string{"upgradeplan", "validate", literal}, io.Discard, &stderr); code != ExitInvalid {
		t.Fatalf("validate of a literal webhook URL exited %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "literal.yaml:5:") || strings.Contains(stderr.String(), "T0KEN") {
		t.Errorf("want a positioned error that does not echo the URL, got:\n%s", stderr.String())
	}

	fleet := write("fleet.yaml", "  notify: [{format: json, url: {fromEnv: ONCALL_HOOK}}]\n")
	plan := filepath.Join(dir, "plan.json")
	stderr.Reset()
	if code := runWith(context.Background(), []string{"upgradeplan", "plan", fleet, "-o", plan}, io.Discard, &stderr); code != 0 {
		t.Fatalf("plan exited %d: %s", code, stderr.String())
	}
	data, _ := os.ReadFile(plan)
	if !strings.Contains(string(data), `"fromEnv": "ONCALL_HOOK"`) || strings.Contains(string(data), "127.0.0.1") {
		t.Fatalf("the plan must hold the reference, not the URL:\n%s", data)
	}

	stderr.Reset()
	code := runWith(context.Background(), []string{"upgradeplan", "apply", plan, "--out", filepath.Join(dir, "run0"), "--visibility-grace", "1s"}, io.Discard, &stderr)
	if code != ExitInvalid || !strings.Contains(stderr.String(), "ONCALL_HOOK") || s.Count("UpgradeInstanceVersion") != 0 {
		t.Fatalf("apply without ONCALL_HOOK: exit %d, %d upgrade calls; want exit 1 naming it and nothing sent:\n%s", code, s.Count("UpgradeInstanceVersion"), stderr.String())
	}
	t.Setenv("ONCALL_HOOK", hook.URL+"/T0KEN")
	stderr.Reset()
	if code := runWith(context.Background(), []string{"upgradeplan", "apply", plan, "--out", filepath.Join(dir, "run"), "--visibility-grace", "1s"}, io.Discard, &stderr); code != ExitOK {
		t.Fatalf("apply exited %d: %s", code, stderr.String())
	}
	if n := posts.Load(); n != 1 {
		t.Errorf("the webhook got %d posts, want 1", n)
	}
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/planner"
	reports "github.com/upgradeplan/upgradeplan/report"
)

// An unattended run with --log-format json: every line on stderr is JSON, from "run
// started" to "run finished" (counts, outcome, exit code, report paths) and the error that
// ended apply; the webhook hears of the failure with its instance; the metrics file ends
// with the exit code.
func TestUnattendedApplyLogsJSONNotifiesAndWritesMetrics(t *testing.T) {
	const state = `accounts:
  - {name: demo-ali, cloud: alibaba, keyId: demo-ak, secret: demo-sk}
kafka:
  - {id: alikafka-ok, region: cn-hangzhou, status: running, version: 0.10.2, tags: {env: prod}}
  - {id: alikafka-bad, region: cn-hangzhou, status: running, version: 0.10.2, tags: {env: prod}}
`
	s := simtest.Start(t, state, sim.Options{TimeScale: 3600, Faults: []byte("failUpgrades: [alikafka-bad]")}, cloudsim.Products()...)
	s.SetEnv(t)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "demo-ak")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "demo-sk")
	t.Setenv(executor.LockDirEnv, t.TempDir())

	var mu sync.Mutex
	var posts [][]byte
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, b)
		mu.Unlock()
	}))
	defer hook.Close()
	t.Setenv("TEST_HOOK", hook.URL+"/secret-token")

	dir := t.TempDir()
	fleet := filepath.Join(dir, "fleet.yaml")
	manifest := "apiVersion: upgradeplan/v1\nkind: Fleet\nmetadata: {name: nightly}\nsettings: {pollInterval: 1s}\ntargets:\n" +
		"  - {name: kafka-hz, kind: alibaba.kafka, region: cn-hangzhou, select: {tags: {env: prod}}, desired: {version: \"2.2.0\"}}\n"
	if err := os.WriteFile(fleet, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	plan, out, metrics := filepath.Join(dir, "plan.json"), filepath.Join(dir, "run"), filepath.Join(dir, "upgradeplan.prom")
	var stderr strings.Builder
	if code := runWith(context.Background(), []string{"upgradeplan", "plan", fleet, "-o", plan}, io.Discard, &stderr); code != 0 {
		t.Fatalf("plan exited %d: %s", code, stderr.String())
	}
	stderr.Reset()
	code := runWith(context.Background(), []string{"upgradeplan", "apply", plan, "--out", out, "--log-format", "json",
		"--notify", "json=env:TEST_HOOK", "--metrics-file", metrics, "--visibility-grace", "1s"}, io.Discard, &stderr)
	if code != ExitFailed {
		t.Fatalf("apply exited %d, want %d (one step fails):\n%s", code, ExitFailed, stderr.String())
	}

	var msgs []string
	var finished map[string]any
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("a stderr line is not JSON: %q", sc.Text())
		}
		msg, _ := line["msg"].(string)
		msgs = append(msgs, msg)
		if msg == "run finished" {
			finished = line
		}
	}
	if len(msgs) < 3 || msgs[0] != "run started" || msgs[len(msgs)-1] != "apply failed" {
		t.Fatalf("want run started first and apply failed last, got %q", msgs)
	}
	if finished == nil || finished["exit_code"] != float64(ExitFailed) || finished["outcome"] != "failed" ||
		finished["report_md"] != filepath.Join(out, reports.MarkdownFile) {
		t.Errorf("run finished event = %v", finished)
	}
	if c, _ := finished["counts"].(map[string]any); c["failed"] != float64(1) || c["succeeded"] != float64(1) {
		t.Errorf("run finished counts = %v, want 1 failed and 1 succeeded", finished["counts"])
	}

	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 1 {
		t.Fatalf("the webhook got %d posts, want 1", len(posts))
	}
	var summary struct {
		Result   string `json:"result"`
		ExitCode int    `json:"exit_code"`
		Failures []struct {
			Instance string `json:"instance"`
		} `json:"failures"`
	}
	if err := json.Unmarshal(posts[0], &summary); err != nil {
		t.Fatal(err)
	}
	if summary.Result != "failed" || summary.ExitCode != ExitFailed || len(summary.Failures) != 1 || summary.Failures[0].Instance != "alikafka-bad" {
		t.Errorf("notification = %s", posts[0])
	}
	if strings.Contains(stderr.String(), "secret-token") {
		t.Error("the webhook URL's token reached the log")
	}

	prom, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`upgradeplan_run_exit_code{plan="nightly"`, `status="failed"} 1`, `status="succeeded"} 1`, `upgradeplan_api_calls_total{plan="nightly"`} {
		if !strings.Contains(string(prom), want) {
			t.Errorf("metrics file lacks %q:\n%s", want, prom)
		}
	}
}

// A run stopped by the window's cutoff prints the command that continues it, complete: the
// same plan and directory and a --window that is still ahead (the same hours on a later day).
func TestContinueCommandAfterAWindowStopNamesALaterWindow(t *testing.T) {
	start := time.Now().Add(-30 * time.Hour).Truncate(time.Second)
	w := &planner.Window{Start: start, End: start.Add(4 * time.Hour), Cutoff: planner.Duration(30 * time.Minute)}
	rec := &executor.Record{Settings: planner.Settings{Window: w}, Outcome: executor.Outcome{Result: "stopped", Reason: "window cutoff: no step starts after ..."}}
	got := continueCommand("plans/q4 plan.json", "runs/q4", rec)
	prefix := "upgradeplan apply 'plans/q4 plan.json' --out runs/q4 --window "
	if !strings.HasPrefix(got, prefix) {
		t.Fatalf("continue command = %q, want it to start %q", got, prefix)
	}
	win, err := parseWindow(strings.TrimPrefix(got, prefix))
	if err != nil {
		t.Fatalf("the --window it prints does not parse: %v", err)
	}
	if !win.Start.After(time.Now()) || win.End.Sub(win.Start) != 4*time.Hour || win.Start.Sub(start)%(24*time.Hour) != 0 {
		t.Errorf("suggested window %s – %s; want the same four hours on a later day, still ahead", win.Start, win.End)
	}
	rec.Outcome.Reason = "failure budget 3 exceeded"
	if got := continueCommand("plan.json", "runs/q4", rec); got != "upgradeplan apply plan.json --out runs/q4" {
		t.Errorf("after a budget stop: %q", got)
	}
}

// The first signal says what happens now and that a second one aborts; the signal is named
// as people know it, not "interrupted by interrupt".
func TestFirstSignalSaysWhatHappensAndThatASecondAborts(t *testing.T) {
	var buf strings.Builder
	p := reports.NewProgress(&buf, false, reports.LogText)
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&interruptedError{sig: os.Interrupt})
	watchFirstSignal(ctx, make(chan struct{}), p, 3*time.Minute, 0)
	got := buf.String()
	for _, want := range []string{"upgradeplan: interrupted (SIGINT): no new step starts", "at most 3m0s", "A second signal (Ctrl-C again) exits at once"} {
		if !strings.Contains(got, want) {
			t.Errorf("notice %q lacks %q", got, want)
		}
	}
	if errors.Is(context.Cause(ctx), context.Canceled) {
		t.Fatal("test setup: the cause must be the signal")
	}
}

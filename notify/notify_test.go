package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/provider"
)

// hook is a loopback webhook that answers with the given statuses in turn (the last one
// repeats) and keeps every body it was sent.
type hook struct {
	mu       sync.Mutex
	statuses []int
	answer   string
	bodies   [][]byte
	paths    []string
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, b)
	h.paths = append(h.paths, r.URL.RequestURI())
	st := h.statuses[min(len(h.bodies)-1, len(h.statuses)-1)]
	h.mu.Unlock()
	w.WriteHeader(st)
	io.WriteString(w, h.answer)
}

func (h *hook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

func stoppedRecord(failures int) *executor.Record {
	rec := &executor.Record{
		Plan:     executor.PlanRef{Name: "q4-broker-upgrades", Digest: "sha256:3f1c"},
		Outcome:  executor.Outcome{Result: "stopped", Reason: "failure budget 3 exceeded", ExitCode: 3},
		Segments: []executor.Segment{{Host: "runner-7"}},
		Counts:   map[executor.Status]int{executor.StatusFailed: failures, executor.StatusSucceeded: 4, executor.StatusNotStarted: 2},
	}
	for i := 0; i < failures; i++ {
		rec.Steps = append(rec.Steps, executor.StepRecord{
			ID: fmt.Sprintf("kafka-hz/alikafka-%02d", i), Instance: fmt.Sprintf("alikafka-%02d", i),
			Status: executor.StatusFailed,
			Error:  &executor.StepError{Code: "ONS_SYSTEM_ERROR", Class: provider.ClassPermanent, Message: "upgrade failed", RequestID: fmt.Sprintf("REQ-%02d", i)},
		})
	}
	rec.Steps = append(rec.Steps, executor.StepRecord{ID: "cache/crs-1", Instance: "crs-1", Status: executor.StatusSucceeded})
	return rec
}

const continueCmd = "upgradeplan apply /plans/plan.json --out /runs/q4"

func fastSender() Sender {
	return Sender{BaseBackoff: time.Millisecond, PerAttempt: 2 * time.Second, PerTarget: 5 * time.Second}
}

// An on-call engineer's message names the outcome, the failures with instance, code and
// request id, where the report is and the command that continues the run, in every format.
func TestEveryFormatCarriesWhatOnCallNeeds(t *testing.T) {
	s := NewSummary(stoppedRecord(2), "/runs/q4", map[string]string{"markdown": "/runs/q4/report.md"}, continueCmd)
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			h := &hook{statuses: []int{200}, answer: `{"errcode":0,"code":0}`}
			srv := httptest.NewServer(h)
			defer srv.Close()
			if errs := fastSender().Send(context.Background(), []Target{{Format: f, URL: srv.URL + "/hook"}}, s); errs != nil {
				t.Fatalf("Send: %v", errs)
			}
			if h.count() != 1 {
				t.Fatalf("webhook got %d posts, want 1", h.count())
			}
			var doc map[string]any
			if err := json.Unmarshal(h.bodies[0], &doc); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, h.bodies[0])
			}
			text := string(h.bodies[0])
			for _, want := range []string{"stopped before finishing", "failure budget 3 exceeded", "alikafka-01", "ONS_SYSTEM_ERROR", "REQ-01", "/runs/q4/report.md", continueCmd} {
				if f == FormatJSON && want == "stopped before finishing" {
					want = `"result":"stopped"`
				}
				if !strings.Contains(text, want) && !strings.Contains(text, jsonEscaped(want)) {
					t.Errorf("%s body lacks %q:\n%s", f, want, text)
				}
			}
			key := map[Format]string{FormatJSON: "event", FormatSlack: "text", FormatDingTalk: "msgtype", FormatWeCom: "msgtype", FormatFeishu: "msg_type"}[f]
			if _, ok := doc[key]; !ok {
				t.Errorf("%s body has no %q key, which the service requires:\n%s", f, key, text)
			}
		})
	}
}

func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

func TestFailuresAreCappedAndCounted(t *testing.T) {
	s := NewSummary(stoppedRecord(MaxFailures+3), "/runs/q4", nil, "")
	if len(s.Failures) != MaxFailures || s.MoreFailures != 3 {
		t.Fatalf("summary lists %d failures and %d more, want %d and 3", len(s.Failures), s.MoreFailures, MaxFailures)
	}
	if !strings.Contains(s.text(plainText), "and 3 more failed steps") {
		t.Errorf("text does not say 3 more failed:\n%s", s.text(plainText))
	}
}

func TestRetriesAfterServerErrorsThenDelivers(t *testing.T) {
	h := &hook{statuses: []int{503, 500, 200}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	errs := fastSender().Send(context.Background(), []Target{{Format: FormatJSON, URL: srv.URL}}, NewSummary(stoppedRecord(1), "d", nil, ""))
	if errs != nil || h.count() != 3 {
		t.Fatalf("Send = %v after %d posts, want delivered on the third", errs, h.count())
	}
}

// A dead webhook delays the end of the run a bounded number of attempts, and its error
// names the host but not the token in the URL's path.
func TestGivesUpBoundedWithoutTheToken(t *testing.T) {
	h := &hook{statuses: []int{502}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	const token = "T0KEN-b7f2a1"
	snd := fastSender()
	snd.Attempts = 3
	errs := snd.Send(context.Background(), []Target{{Format: FormatSlack, URL: srv.URL + "/services/" + token}}, NewSummary(stoppedRecord(1), "d", nil, ""))
	if len(errs) != 1 || h.count() != 3 {
		t.Fatalf("Send = %v after %d posts, want one error after 3 attempts", errs, h.count())
	}
	if strings.Contains(errs[0].Error(), token) || !strings.Contains(errs[0].Error(), "127.0.0.1") {
		t.Errorf("error %q must name the host, never the URL's token", errs[0])
	}
}

func TestRefusalsAreNotRetried(t *testing.T) {
	for name, h := range map[string]*hook{
		"HTTP 400":                {statuses: []int{400}},
		"DingTalk errcode 300001": {statuses: []int{200}, answer: `{"errcode":300001,"errmsg":"token is not exist"}`},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			errs := fastSender().Send(context.Background(), []Target{{Format: FormatDingTalk, URL: srv.URL}}, NewSummary(stoppedRecord(1), "d", nil, ""))
			if len(errs) != 1 || h.count() != 1 {
				t.Fatalf("Send = %v after %d posts, want one error after one post", errs, h.count())
			}
		})
	}
	h := &hook{statuses: []int{200}, answer: `{"errcode":130101,"errmsg":"send too fast"}`}
	srv := httptest.NewServer(h)
	defer srv.Close()
	snd := fastSender()
	snd.Attempts = 2
	if errs := snd.Send(context.Background(), []Target{{Format: FormatDingTalk, URL: srv.URL}}, NewSummary(stoppedRecord(1), "d", nil, "")); len(errs) != 1 || h.count() != 2 {
		t.Errorf("DingTalk's rate limit: %v after %d posts, want a retry", errs, h.count())
	}
}

func TestParseTarget(t *testing.T) {
	env := map[string]string{"SLACK_HOOK": "https://hooks.slack.com/services/T/B/secret"}
	getenv := func(k string) string { return env[k] }
	for _, c := range []struct {
		in, url string
		format  Format
		err     string
	}{
		{in: "https://hooks.slack.com/services/T/B/x", url: "https://hooks.slack.com/services/T/B/x", format: FormatSlack},
		{in: "https://oapi.dingtalk.com/robot/send?access_token=x", url: "https://oapi.dingtalk.com/robot/send?access_token=x", format: FormatDingTalk},
		{in: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x", url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x", format: FormatWeCom},
		{in: "https://open.feishu.cn/open-apis/bot/v2/hook/x", url: "https://open.feishu.cn/open-apis/bot/v2/hook/x", format: FormatFeishu},
		{in: "https://alerts.example.com/upgradeplan", url: "https://alerts.example.com/upgradeplan", format: FormatJSON},
		{in: "feishu=http://127.0.0.1:9/hook", url: "http://127.0.0.1:9/hook", format: FormatFeishu},
		{in: "env:SLACK_HOOK", url: env["SLACK_HOOK"], format: FormatSlack},
		{in: "json=env:SLACK_HOOK", url: env["SLACK_HOOK"], format: FormatJSON},
		{in: "env:NOPE", err: "environment variable NOPE"},
		{in: "teams=https://x.example", err: `unknown format "teams"`},
		{in: "hooks.slack.com/services/secret", err: "absolute http"},
	} {
		got, err := ParseTarget(c.in, getenv)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseTarget(%q) error = %v, want %q", c.in, err, c.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseTarget(%q) error echoes the URL: %v", c.in, err)
			}
			continue
		}
		if err != nil || got.URL != c.url || got.Format != c.format {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %s %s", c.in, got, err, c.format, c.url)
		}
	}
}

// A failure whose error names no request id or code still carries the request id that
// report.md shows (the step's last one), in every format.
func TestFailureCarriesTheStepsLastRequestIDWithoutAnErrorCode(t *testing.T) {
	rec := &executor.Record{Plan: executor.PlanRef{Name: "marketplace"}, Outcome: executor.Outcome{Result: "failed", ExitCode: 2},
		Counts: map[executor.Status]int{executor.StatusFailed: 1},
		Steps: []executor.StepRecord{{ID: "marketplace/si-2", Instance: "si-2", Status: executor.StatusFailed,
			RequestIDs: []string{"REQ-FIRST", "REQ-LAST"},
			Error:      &executor.StepError{Class: provider.ClassPermanent, Message: "service instance si-2 is DeployedFailed"}}}}
	s := NewSummary(rec, "/runs/m", nil, "")
	for _, f := range formats {
		body, err := Body(f, s)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), "REQ-LAST") {
			t.Errorf("%s body lacks the request id REQ-LAST:\n%s", f, body)
		}
	}
}

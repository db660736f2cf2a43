package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
)

const secretValue = "S3cret-Pa55word!"

// demoEvents is a short run: a canary succeeds, a step fails with a message that echoes a
// secret parameter, the last succeeds.
func demoEvents() []executor.Event {
	t0 := time.Date(2026, 3, 14, 2, 0, 0, 0, time.UTC)
	ev := func(sec int, step string, st executor.Status, msg string, c executor.Counters) executor.Event {
		target, inst, _ := strings.Cut(step, "/")
		return executor.Event{Time: t0.Add(time.Duration(sec) * time.Second), Step: step, Target: target, Instance: inst, Status: st, Message: msg, Progress: c}
	}
	return []executor.Event{
		ev(0, "kafka-hz/alikafka-demo-1", executor.StatusRunning, "", executor.Counters{Total: 3, InFlight: 1, ETA: 2 * time.Minute}),
		ev(60, "kafka-hz/alikafka-demo-1", executor.StatusSucceeded, "", executor.Counters{Total: 3, Done: 1, Throttled: 2, ETA: 70 * time.Second}),
		ev(61, "marketplace/si-demo-1", executor.StatusFailed, "InvalidParameter: InstancePassword "+secretValue+" is too weak\nretry", executor.Counters{Total: 3, Done: 2, Failed: 1, Throttled: 2, ETA: 9 * time.Second}),
		ev(70, "kafka-hz/alikafka-demo-2", executor.StatusSucceeded, "", executor.Counters{Total: 3, Done: 3, Failed: 1, Throttled: 2}),
	}
}

func TestProgressOnATerminalRedrawsOneLine(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, true, LogText)
	p.Redact(secretValue)
	for _, ev := range demoEvents() {
		p.Event(ev)
	}
	p.Close()
	got := out.String()
	for _, want := range []string{
		"\r\x1b[Kupgradeplan: 0/3 done · 0 failed · 1 in flight · 0 throttled · ETA 2m0s",
		"\r\x1b[Kupgradeplan: 1/3 done · 0 failed · 0 in flight · 2 throttled · 1m00s elapsed · ETA 1m10s",
		"\r\x1b[Kfailed: marketplace/si-demo-1: InvalidParameter: InstancePassword *** is too weak retry\n",
		"\r\x1b[Kupgradeplan: 3/3 done · 1 failed · 0 in flight · 2 throttled · 1m10s elapsed\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, got)
		}
	}
	if strings.Count(got, "\n") != 2 {
		t.Errorf("want exactly two finished lines (the failure and the final state), got %q", got)
	}
	if strings.Contains(got, secretValue) {
		t.Error("the secret reached the terminal")
	}
}

func TestProgressOnATerminalDoesNotRedrawForEveryEvent(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, true, LogText)
	t0 := time.Date(2026, 3, 14, 2, 0, 0, 0, time.UTC)
	for i := range 1000 {
		p.Event(executor.Event{Time: t0.Add(time.Duration(i) * time.Millisecond), Status: executor.StatusSucceeded,
			Progress: executor.Counters{Total: 2000, Done: i + 1}})
	}
	p.Close()
	if n := strings.Count(out.String(), "\r\x1b[K"); n > 12 {
		t.Errorf("1,000 events within one second redrew the line %d times; want about one per 100ms", n)
	}
	if !strings.HasSuffix(out.String(), "upgradeplan: 1,000/2,000 done · 0 failed · 0 in flight · 0 throttled · 1s elapsed\n") {
		t.Errorf("Close must draw the last state seen: %q", out.String()[max(0, out.Len()-120):])
	}
}

func TestProgressWithoutATerminalLogsEachTransition(t *testing.T) {
	tests := []struct {
		name, format string
		check        func(t *testing.T, lines []string)
	}{
		{"json lines carry the step's attributes", LogJSON, func(t *testing.T, lines []string) {
			var failed map[string]any
			if err := json.Unmarshal([]byte(lines[2]), &failed); err != nil {
				t.Fatalf("line 3 is not JSON: %v: %s", err, lines[2])
			}
			want := map[string]any{"level": "ERROR", "msg": "step failed", "step": "marketplace/si-demo-1",
				"target": "marketplace", "instance": "si-demo-1", "status": "failed", "done": 2.0, "total": 3.0,
				"time": "2026-03-14T02:01:01Z"}
			for k, v := range want {
				if failed[k] != v {
					t.Errorf("%s = %v, want %v", k, failed[k], v)
				}
			}
			if msg, _ := failed["message"].(string); !strings.HasPrefix(msg, "InvalidParameter: InstancePassword *** is too weak") {
				t.Errorf("message = %q", msg)
			}
		}},
		{"text lines are key=value", LogText, func(t *testing.T, lines []string) {
			want := `time=2026-03-14T02:01:00.000Z level=INFO msg="step succeeded" step=kafka-hz/alikafka-demo-1 target=kafka-hz instance=alikafka-demo-1 status=succeeded done=1 total=3 failed=0 in_flight=0 throttled=2`
			if lines[1] != want {
				t.Errorf("line 2:\n got %s\nwant %s", lines[1], want)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			p := NewProgress(&out, false, tc.format)
			p.Redact(secretValue, "")
			for _, ev := range demoEvents() {
				p.Event(ev)
			}
			p.Close()
			if strings.Contains(out.String(), secretValue) {
				t.Fatal("the secret reached a log line")
			}
			var lines []string
			sc := bufio.NewScanner(&out)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			if len(lines) != 4 {
				t.Fatalf("want one line per transition (4), got %d:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			tc.check(t, lines)
		})
	}
}

func TestProgressIsSafeForConcurrentWorkers(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, false, LogJSON)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				p.Event(executor.Event{Step: "t/i", Status: executor.StatusRunning, Progress: executor.Counters{Done: w*50 + i}})
			}
		})
	}
	wg.Wait()
	p.Close()
	for i, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("line %d is interleaved: %q", i+1, line)
		}
	}
}

func TestCheckLogFormat(t *testing.T) {
	for format, ok := range map[string]bool{"text": true, "json": true, "yaml": false, "": false} {
		if err := CheckLogFormat(format); (err == nil) != ok {
			t.Errorf("CheckLogFormat(%q) = %v", format, err)
		}
	}
}

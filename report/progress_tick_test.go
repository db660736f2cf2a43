package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/upgradeplan/upgradeplan/executor"
)

// Between step transitions the line still moves: the elapsed time grows and the ETA counts
// down each second (it said "ETA 2s" for 20 s before), never below one second while work is
// left.
func TestProgressTickMovesElapsedAndETA(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, true, LogText)
	t0 := time.Date(2026, 3, 14, 2, 0, 0, 0, time.UTC)
	p.SetStart(t0)
	p.Event(executor.Event{Time: t0.Add(5 * time.Second), Status: executor.StatusRunning,
		Progress: executor.Counters{Total: 4, InFlight: 1, ETA: 30 * time.Second}})
	p.Tick(t0.Add(15 * time.Second))
	p.Tick(t0.Add(2 * time.Minute))
	got := out.String()
	for _, want := range []string{
		"· 5s elapsed · ETA 30s",
		"· 15s elapsed · ETA 20s",
		"· 2m00s elapsed · ETA 1s",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("live line lacks %q:\n%q", want, got)
		}
	}
}

// On a terminal narrower than the line, the line is cut to fit and never wraps (a wrapped
// line smears one copy per redraw).
func TestProgressLineFitsTheTerminal(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, true, LogText)
	width := 40
	p.SetWidth(func() int { return width })
	t0 := time.Date(2026, 3, 14, 2, 0, 0, 0, time.UTC)
	p.Event(executor.Event{Time: t0, Status: executor.StatusRunning, Progress: executor.Counters{Total: 12345, InFlight: 17, ETA: time.Hour}})
	width = 25
	p.Tick(t0.Add(3 * time.Second))
	for i, line := range strings.Split(out.String(), "\r\x1b[K")[1:] {
		if n := utf8.RuneCountInString(line); n >= []int{40, 25}[i] {
			t.Errorf("redraw %d is %d columns on a %d-column terminal: %q", i, n, []int{40, 25}[i], line)
		}
		if !strings.HasSuffix(line, "…") {
			t.Errorf("a cut line ends in …: %q", line)
		}
	}
}

// With --log-format json, lines that are not step transitions (run started, the error that
// ended apply, a notice) are JSON too, so a log pipeline parses every line on stderr.
func TestProgressLogLinesAreJSONInJSONMode(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, false, LogJSON)
	p.Redact(secretValue)
	p.Log(slog.LevelInfo, "run started", slog.String("plan_digest", "sha256:ab"), slog.Int("steps", 3))
	p.Event(demoEvents()[0])
	p.Notice("interrupt received: no new step starts; a second interrupt exits at once")
	p.Log(slog.LevelError, "apply failed", slog.String("error", "password "+secretValue+" refused"))
	sc := bufio.NewScanner(&out)
	var msgs []string
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		msgs = append(msgs, line["msg"].(string))
	}
	if strings.Join(msgs, "|") != "run started|step running|interrupt received: no new step starts; a second interrupt exits at once|apply failed" {
		t.Errorf("messages = %q", msgs)
	}
	if strings.Contains(out.String(), secretValue) {
		t.Error("a secret reached the log")
	}
}

// On a terminal, a notice is a permanent line and the live line comes back under it.
func TestProgressNoticeOnATerminalKeepsTheLiveLine(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, true, LogText)
	p.Event(demoEvents()[0])
	p.Notice("interrupt received: finishing the 1 step in flight; press Ctrl-C again to exit at once")
	got := out.String()
	want := "\r\x1b[Kupgradeplan: interrupt received: finishing the 1 step in flight; press Ctrl-C again to exit at once\n\r\x1b[Kupgradeplan: 0/3 done"
	if !strings.Contains(got, want) {
		t.Errorf("terminal output lacks %q:\n%q", want, got)
	}
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/notify"
	"github.com/upgradeplan/upgradeplan/planner"
	reports "github.com/upgradeplan/upgradeplan/report"
)

// This file is what apply tells people around a run: the run started and run finished log
// events, the notice at the first signal, the end message with the command that continues
// the run, the webhook notifications and the metrics file.

// continueCommand is the complete command that continues a stopped run, as it must be typed:
// the same plan and run directory; after a window stop also --window, naming the same hours
// a day later (a window that works as written, which the operator may move).
func continueCommand(planPath, out string, rec *executor.Record) string {
	cmd := "upgradeplan apply " + shellQuote(planPath) + " --out " + shellQuote(out)
	if rec == nil || !strings.HasPrefix(rec.Outcome.Reason, "window") {
		return cmd
	}
	w := rec.Settings.Window
	if n := len(rec.Segments); n > 0 && rec.Segments[n-1].Window != nil {
		w = rec.Segments[n-1].Window
	}
	if w == nil {
		return cmd
	}
	day := 24 * time.Hour
	next := time.Now()
	start, end := w.Start, w.End
	for !start.After(next) {
		start, end = start.Add(day), end.Add(day)
	}
	return cmd + " --window " + start.Format(time.RFC3339) + "/" + end.Format(time.RFC3339)
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// endMessage says in plain words how the run ended, for the last line on stderr.
func endMessage(rec *executor.Record, cont string) string {
	var msg string
	switch rec.Outcome.Result {
	case "succeeded":
		return "apply finished: every step succeeded or had nothing to do"
	case "failed":
		msg = fmt.Sprintf("apply finished with %d failed step(s); report.md lists them first", rec.Counts[executor.StatusFailed])
		if n := rec.Counts[executor.StatusSkipped] + rec.Counts[executor.StatusDrifted]; n > 0 {
			msg += fmt.Sprintf(", and %d skipped or drifted", n)
		}
	case "stopped":
		msg = "apply stopped before finishing"
		if rec.Outcome.Reason != "" {
			msg += ": " + rec.Outcome.Reason
		}
		msg += "; continue with: " + cont
	default:
		msg = "apply " + rec.Outcome.Result
		if rec.Outcome.Reason != "" {
			msg += ": " + rec.Outcome.Reason
		}
	}
	return msg
}

// reportPaths are the files a finished run wrote, by format.
func reportPaths(out string) map[string]string {
	return map[string]string{
		"markdown": filepath.Join(out, reports.MarkdownFile),
		"junit":    filepath.Join(out, reports.JUnitFile),
		"json":     filepath.Join(out, executor.RecordFile),
	}
}

// logRunStarted is the first event of a run in log mode.
func logRunStarted(p *reports.Progress, plan *planner.Plan, out string, dryRun bool) {
	attrs := []slog.Attr{
		slog.String("plan", plan.Manifest.Name),
		slog.String("plan_digest", plan.Digest),
		slog.String("run_dir", out),
		slog.Int("steps", len(plan.Steps)),
		slog.Bool("dry_run", dryRun),
	}
	if w := plan.Settings.Window; w != nil {
		attrs = append(attrs, slog.String("window_start", w.Start.Format(time.RFC3339)),
			slog.String("window_end", w.End.Format(time.RFC3339)), slog.String("window_cutoff", time.Duration(w.Cutoff).String()))
	}
	p.Log(slog.LevelInfo, "run started", attrs...)
}

// logRunFinished is the last event of a run in log mode: counts per status, the outcome,
// the exit code and where the reports are.
func logRunFinished(p *reports.Progress, rec *executor.Record, out string, code int, cont string) {
	counts := make([]any, 0, len(rec.Counts))
	for st, n := range rec.Counts {
		if n > 0 {
			counts = append(counts, slog.Int(string(st), n))
		}
	}
	level := slog.LevelInfo
	if code != ExitOK {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("plan_digest", rec.Plan.Digest),
		slog.String("run_dir", out),
		slog.String("outcome", rec.Outcome.Result),
		slog.Int("exit_code", code),
		slog.Group("counts", counts...),
		slog.String("report_md", filepath.Join(out, reports.MarkdownFile)),
		slog.String("junit_xml", filepath.Join(out, reports.JUnitFile)),
		slog.String("run_json", filepath.Join(out, executor.RecordFile)),
	}
	if rec.Outcome.Reason != "" {
		attrs = append(attrs, slog.String("reason", rec.Outcome.Reason))
	}
	if rec.Outcome.Result == "stopped" {
		attrs = append(attrs, slog.String("continue", cont))
	}
	p.Log(level, "run finished", attrs...)
}

// watchFirstSignal prints, at the first SIGINT/SIGTERM, what happens now and that a second
// signal aborts (as Terraform does), once; it returns when ctx ends or stop is closed.
func watchFirstSignal(ctx context.Context, stop <-chan struct{}, p *reports.Progress, stopTimeout, deadline time.Duration) {
	select {
	case <-stop:
		return
	case <-ctx.Done():
	}
	what := "stop requested"
	if c := context.Cause(ctx); c != nil && c != context.Canceled {
		what = c.Error()
	}
	until := fmt.Sprintf("to the end (at most %s while their polls fail)", stopTimeout)
	if deadline > 0 {
		until = fmt.Sprintf("for at most %s (the stop deadline; at most %s while their polls fail)", deadline, stopTimeout)
	}
	p.Notice(fmt.Sprintf("%s: no new step starts; the steps in flight are followed %s, then the record and reports are written. A second signal (Ctrl-C again) exits at once; the journal stays intact and the same command continues the run.",
		what, until))
}

// notifyEnd posts the run's summary to every --notify target; a failure is a warning only.
func notifyEnd(p *reports.Progress, targets []notify.Target, s notify.Summary) {
	if len(targets) == 0 {
		return
	}
	// The run's context may be cancelled by a signal: notifications get their own, bounded.
	for _, err := range (notify.Sender{}).Send(context.Background(), targets, s) {
		p.Notice("warning: " + err.Error())
	}
}

// metricsSink keeps --metrics-file current: steps by status follow every event (written at
// most once a second), calls and throttles per bucket follow each run.json snapshot.
type metricsSink struct {
	path string
	p    *reports.Progress

	mu       sync.Mutex
	rec      *executor.Record
	statuses map[string]executor.Status
	counters executor.Counters
	written  time.Time
	failed   bool
}

func newMetricsSink(path string, p *reports.Progress, plan *planner.Plan) *metricsSink {
	m := &metricsSink{path: path, p: p, statuses: make(map[string]executor.Status, len(plan.Steps))}
	m.rec = &executor.Record{Plan: executor.PlanRef{Name: plan.Manifest.Name, Digest: plan.Digest}, Counts: map[executor.Status]int{}}
	for _, s := range plan.Steps {
		m.statuses[s.ID] = executor.StatusPending
	}
	m.rec.Counts[executor.StatusPending] = len(plan.Steps)
	m.counters.Total = len(plan.Steps)
	return m
}

// record takes a snapshot of the run record: its counts are authoritative.
func (m *metricsSink) record(rec *executor.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	snap := *rec
	snap.Counts = make(map[executor.Status]int, len(rec.Counts))
	for k, v := range rec.Counts {
		snap.Counts[k] = v
	}
	for _, s := range rec.Steps {
		m.statuses[s.ID] = s.Status
	}
	snap.Steps = nil
	m.rec = &snap
	m.writeLocked(time.Now(), false, true)
}

// event follows one step transition.
func (m *metricsSink) event(ev executor.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.statuses[ev.Step]; ok && old != ev.Status {
		m.rec.Counts[old]--
		m.rec.Counts[ev.Status]++
		m.statuses[ev.Step] = ev.Status
	}
	m.counters = ev.Progress
	m.writeLocked(time.Now(), false, false)
}

// finish writes the final state with the exit code.
func (m *metricsSink) finish(rec *executor.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rec != nil {
		m.rec = rec
	}
	m.counters.InFlight, m.counters.ETA = 0, 0
	m.writeLocked(time.Now(), true, true)
}

func (m *metricsSink) writeLocked(now time.Time, finished, force bool) {
	if !force && now.Sub(m.written) < time.Second {
		return
	}
	m.written = now
	if err := reports.WriteMetricsFile(m.path, m.rec, m.counters, finished, now); err != nil && !m.failed {
		m.failed = true // said once; the run goes on
		m.p.Notice("warning: --metrics-file: " + err.Error())
	}
}

package report

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/internal/atomicfile"
)

// Metrics writes a run's state in the Prometheus text exposition format (version 0.0.4),
// for node_exporter's textfile collector: point --metrics-file at a *.prom file in the
// collector's directory and a long run can be graphed and alerted on (no progress for an
// hour, throttles climbing, the ETA past the window's end). Every series carries the plan
// name and digest so two runs on one host stay apart. rec is a snapshot of the run record
// (its counts and buckets), c the newest progress counters, finished whether the run ended.
func Metrics(w io.Writer, rec *executor.Record, c executor.Counters, finished bool, now time.Time) error {
	var b bytes.Buffer
	labels := fmt.Sprintf(`plan=%s,digest=%s`, quoteLabel(rec.Plan.Name), quoteLabel(rec.Plan.Digest))
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}

	family("upgradeplan_steps", "gauge", "Steps of the plan by status.")
	statuses := []executor.Status{executor.StatusPending, executor.StatusRunning, executor.StatusSucceeded,
		executor.StatusFailed, executor.StatusSkipped, executor.StatusNoop, executor.StatusDrifted,
		executor.StatusNotStarted, executor.StatusCancelled}
	seen := map[executor.Status]bool{}
	for _, st := range statuses {
		seen[st] = true
		fmt.Fprintf(&b, "upgradeplan_steps{%s,status=%s} %d\n", labels, quoteLabel(string(st)), rec.Counts[st])
	}
	var other []string
	for st := range rec.Counts {
		if !seen[st] {
			other = append(other, string(st))
		}
	}
	sort.Strings(other)
	for _, st := range other {
		fmt.Fprintf(&b, "upgradeplan_steps{%s,status=%s} %d\n", labels, quoteLabel(st), rec.Counts[executor.Status(st)])
	}

	family("upgradeplan_steps_total", "gauge", "Steps in the plan.")
	fmt.Fprintf(&b, "upgradeplan_steps_total{%s} %d\n", labels, c.Total)
	family("upgradeplan_steps_in_flight", "gauge", "Steps whose call was sent and whose completion is being followed.")
	fmt.Fprintf(&b, "upgradeplan_steps_in_flight{%s} %d\n", labels, c.InFlight)

	buckets := append([]executor.BucketStats(nil), rec.Buckets...)
	sort.Slice(buckets, func(i, j int) bool {
		if buckets[i].Account != buckets[j].Account {
			return buckets[i].Account < buckets[j].Account
		}
		return buckets[i].Action < buckets[j].Action
	})
	for _, m := range []struct {
		name, help string
		value      func(executor.BucketStats) int
	}{
		{"upgradeplan_api_calls_total", "Requests sent per rate-limit bucket (account, kind/action).", func(s executor.BucketStats) int { return s.Calls }},
		{"upgradeplan_api_throttles_total", "Throttling answers per rate-limit bucket.", func(s executor.BucketStats) int { return s.Throttles }},
		{"upgradeplan_api_polls_total", "Requests made to observe completion per bucket.", func(s executor.BucketStats) int { return s.Polls }},
	} {
		family(m.name, "counter", m.help)
		for _, s := range buckets {
			fmt.Fprintf(&b, "%s{%s,account=%s,action=%s} %d\n", m.name, labels, quoteLabel(orDefault(s.Account, "default")), quoteLabel(s.Action), m.value(s))
		}
	}

	family("upgradeplan_eta_seconds", "gauge", "Best-case time left by the rate caps and the work in flight; 0 when unknown or done.")
	fmt.Fprintf(&b, "upgradeplan_eta_seconds{%s} %g\n", labels, c.ETA.Seconds())
	family("upgradeplan_run_finished", "gauge", "1 once the run ended or stopped, 0 while it runs.")
	fmt.Fprintf(&b, "upgradeplan_run_finished{%s} %d\n", labels, boolInt(finished))
	if finished {
		family("upgradeplan_run_exit_code", "gauge", "The exit code apply ended with (0 succeeded, 2 failures, 3 stopped and resumable).")
		fmt.Fprintf(&b, "upgradeplan_run_exit_code{%s} %d\n", labels, rec.Outcome.ExitCode)
	}
	family("upgradeplan_last_update_timestamp_seconds", "gauge", "When this file was written (Unix time).")
	fmt.Fprintf(&b, "upgradeplan_last_update_timestamp_seconds{%s} %d\n", labels, now.Unix())
	_, err := w.Write(b.Bytes())
	return err
}

// WriteMetricsFile writes Metrics to path atomically (temporary file in the same
// directory, then rename), as the textfile collector requires: it must never read half a
// file.
func WriteMetricsFile(path string, rec *executor.Record, c executor.Counters, finished bool, now time.Time) error {
	var buf bytes.Buffer
	if err := Metrics(&buf, rec, c, finished, now); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: write metrics file: %w", err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// quoteLabel quotes a label value as the exposition format escapes it: backslash, double
// quote and newline.
func quoteLabel(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}

package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// RESULTS.md holds one section per profile (and the baseline and the scale curve), each
// between markers; a run rewrites the sections it measured and keeps the others as they
// were, with the date and commit they were measured on.
var sectionOrder = []string{"ideal", "realistic", "large", "baseline", "postgres", "scale", "scale-plan"}

func marker(name string) (string, string) {
	return "<!-- section:" + name + " -->\n", "<!-- end:" + name + " -->\n"
}

// readSections returns the sections of an existing RESULTS.md.
func readSections(path string) map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	s := string(b)
	for _, name := range sectionOrder {
		open, end := marker(name)
		i := strings.Index(s, open)
		j := strings.Index(s, end)
		if i >= 0 && j > i {
			out[name] = s[i+len(open) : j]
		}
	}
	return out
}

func writeResults(path string, fresh map[string]string) error {
	sections := readSections(path)
	for k, v := range fresh {
		sections[k] = v
	}
	var sb strings.Builder
	sb.WriteString(header)
	for _, name := range sectionOrder {
		body, ok := sections[name]
		if !ok {
			body = fmt.Sprintf("## %s\n\nNot measured yet.\n", name)
		}
		open, end := marker(name)
		sb.WriteString(open + body + end + "\n")
	}
	sb.WriteString(notes)
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}

// stamp says when, on what and where a section was measured.
func stamp(took time.Duration) string {
	commit := "unknown"
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/RESULTS.md").Output(); err == nil && len(st) > 0 {
			commit += " (with uncommitted changes)"
		}
	}
	return fmt.Sprintf("Measured %s on commit %s; %s; the run took %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), commit, machine(), took.Round(time.Second))
}

func tableOf(rows []row) string {
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "| metric\t| value\t| target\t| \t|\n|---\t|---\t|---\t|---\t|\n")
	for _, r := range rows {
		v := ""
		if r.ok != nil {
			v = "ok"
			if !*r.ok {
				v = "MISSED"
			}
		}
		fmt.Fprintf(tw, "| %s\t| %s\t| %s\t| %s\t|\n", r.metric, r.value, r.target, v)
	}
	tw.Flush()
	return sb.String()
}

func (r result) section() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Profile `%s`\n\n", r.profile.name)
	sb.WriteString(stamp(r.wall))
	fmt.Fprintf(&sb, "\nWorkload: %d instances (%s); %s\n\n", r.instances, kindCounts(r.byKind), r.profile.describe)
	sb.WriteString(tableOf(r.rows))
	if m := r.missed(); len(m) > 0 {
		fmt.Fprintf(&sb, "\nMissed: %s.\n", strings.Join(m, "; "))
	}
	sb.WriteString("\nLower bound, the five largest buckets of mutating calls and of forced reads (D: least slot time of a step, duration plus the fastest request; forced reads: the judgement and confirmation reads the API forces per step, see \"How the numbers are taken\"):\n\n")
	sb.WriteString("| bucket (account kind/Action) | calls | cap | D min–max | last released | bound |\n|---|---|---|---|---|---|\n")
	for i, b := range r.bound.buckets {
		if i == 5 {
			break
		}
		if b.forced {
			fmt.Fprintf(&sb, "| %s (forced reads) | %d | %g/s | – | – | %s |\n", b.key, b.calls, b.rate, secs(b.bound))
			continue
		}
		fmt.Fprintf(&sb, "| %s | %d | %g/s | %s–%s | %s | %s |\n", b.key, b.calls, b.rate, secs(b.dMin), secs(b.dMax), secs(b.lastReleased), secs(b.bound))
	}
	fmt.Fprintf(&sb, "\nLongest dependency chain: %s. Parallelism bound (Σ D %s / %d): %s.\n",
		secs(r.bound.chain), secs(r.bound.sumD), r.profile.mix.parallelism, secs(r.bound.parallelism))
	if len(r.kindPolls) > 0 {
		sb.WriteString("\nWhat the polls bought, per kind (bench/lag.go; lag: from the simulator finishing an upgrade to the run record seeing its step done; slot time: the step's started_at to finished_at, over D, its upgrade's duration):\n\n")
		sb.WriteString(pollTable(r.kindPolls))
	}
	return sb.String()
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func (c comparison) section() string {
	var sb strings.Builder
	o, b := c.ours, c.base
	sb.WriteString("## Baseline: a Terraform-style executor beside upgradeplan\n\n")
	sb.WriteString(stamp(c.wall))
	fmt.Fprintf(&sb, "\nWorkload: the `realistic` profile scaled to %d instances (%s), %d changes; both apply the same plan against a fresh simulator with the same state, latencies, duration spread and faults. The baseline: one describe per resource on refresh, 10 workers, a synchronous wait per resource (polling that instance every 5 simulated seconds), retry on throttle with backoff (bench/baseline.go).\n\n",
		o.instances, kindCounts(o.byKind), o.steps)
	sb.WriteString("| | upgradeplan apply | Terraform-style | baseline / upgradeplan |\n|---|---|---|---|\n")
	fmt.Fprintf(&sb, "| makespan | %s | %s (refresh %s) | %s |\n", secs(o.makespan), secs(b.makespan), secs(b.refresh), ratio(b.makespan.Seconds(), o.makespan.Seconds()))
	fmt.Fprintf(&sb, "| API calls | %d (plan: %d more) | %d | %s |\n", o.applyCalls, len(o.plan.calls), b.calls, ratio(float64(b.calls), float64(o.applyCalls)))
	fmt.Fprintf(&sb, "| throttling answers | %d | %d | %s |\n", o.throttles, b.throttles, ratio(float64(b.throttles), float64(o.throttles)))
	fmt.Fprintf(&sb, "| polls | %d | %d | %s |\n", o.polls, b.polls, ratio(float64(b.polls), float64(o.polls)))
	fmt.Fprintf(&sb, "| outcome | %s (%s) | %d of %d resources failed | |\n", o.outcome, countsString(o.counts), b.failed, b.resources)
	fmt.Fprintf(&sb, "| applied changes (/_sim/applied) | %s | %s | |\n", appliedString(o), appliedString(c.baseline))
	if len(b.failures) > 0 {
		fmt.Fprintf(&sb, "\nBaseline failures (first %d): %s.\n", len(b.failures), strings.Join(b.failures, "; "))
	}
	fmt.Fprintf(&sb, "\nupgradeplan on this workload, in full:\n\n%s", tableOf(o.rows))
	return sb.String()
}

// machine describes where the numbers came from.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%s, nproc %d, %s, %s %s/%s", model, runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

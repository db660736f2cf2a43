package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/executor/pgstate"
	"github.com/upgradeplan/upgradeplan/notify"
	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/products"
	reports "github.com/upgradeplan/upgradeplan/report"
)

// hardExitGrace is how long apply waits for the executor to write its record after a second
// signal before exiting regardless; every journal entry is written when it is made and
// every intent fsynced before its call, so nothing a resume needs is lost either way.
const hardExitGrace = 2 * time.Second

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:      "apply",
		Usage:     "apply a reviewed plan within the APIs' rate limits; resumable after a crash",
		ArgsUsage: "PLAN.json",
		Description: "Runs the plan's steps (dependencies, canary waves, parallelism, change window,\n" +
			"   failure budget) and writes DIR/journal.jsonl, DIR/run.json, DIR/report.md and DIR/junit.xml.\n" +
			"   Exit 0 all succeeded or had nothing to do, 1 nothing attempted, 2 a step failed or was\n" +
			"   skipped, 3 stopped early (run the same command again to continue), 4 plan refused, 5 locked.\n" +
			"   --out DIR starts a run, or continues the run of this plan that DIR holds.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "run directory (default runs/<plan name>-<UTC time>)"},
			&cli.IntFlag{Name: "parallelism", Usage: "steps in flight at once, overriding the plan's settings.parallelism"},
			&cli.BoolFlag{Name: "dry-run", Usage: "read, order and rate-limit everything, send no mutating call"},
			&cli.StringFlag{Name: "resume", Usage: "continue the run recorded in `DIR`"},
			&cli.StringFlag{Name: "expect-digest", Usage: "refuse the plan unless its digest is `SHA`"},
			&cli.StringFlag{Name: "window", Usage: "when continuing a stopped run: a later change window `START/END` (RFC 3339) in place of the plan's; its cutoff still applies"},
			&cli.StringFlag{Name: "log-format", Value: reports.LogText, Usage: "progress lines when stderr is not a terminal: text or json"},
			&cli.DurationFlag{Name: "stop-timeout", Value: executor.DefaultStopTimeout, Usage: "after the first signal, how long to follow steps in flight while every poll of them fails, before recording them in doubt for --resume"},
			&cli.DurationFlag{Name: "stop-deadline", EnvVars: []string{"UPGRADEPLAN_STOP_DEADLINE"}, Usage: "after the first signal, follow steps in flight for at most `D` in all, then end as a second signal does: record them (an accepted call for --resume to follow), write the reports, exit 3; set it below a Kubernetes pod's terminationGracePeriodSeconds (default: follow them to the end)"},
			&cli.StringFlag{Name: "lock-dir", EnvVars: []string{executor.LockDirEnv}, Usage: "`DIR` of the plan-digest locks (default ~/.cache/upgradeplan/locks; macOS ~/Library/Caches/upgradeplan/locks; Windows %LocalAppData%\\upgradeplan\\locks); the run directory's lock is DIR/lock"},
			&cli.StringSliceFlag{Name: "shortest-operation", EnvVars: []string{"UPGRADEPLAN_SHORTEST_OPERATION"}, Usage: "override the products' shortest operation: `[KIND=]DURATION`, repeatable (the shortest busy spell a change shows; a lost answer of a change that leaves no trace is resent only if the instance was watched with looks closer than this)"},
			&cli.StringFlag{Name: "state", EnvVars: []string{pgstate.Env}, Usage: "keep the run's journal, record, locks and instance leases in PostgreSQL: `postgres://USER@HOST:PORT/DB` (password from PGPASSWORD or a PGPASSFILE, never in the URL); any machine continues the run with the same command; --out then only receives the reports"},
			&cli.StringFlag{Name: "shard", Usage: "with --state: run only the steps of the accounts dealt to shard `I/N` (0 <= I < N; a Kubernetes Indexed Job's $JOB_COMPLETION_INDEX/N); other shards' steps are waited for through the state; `report --state URL --run DIGEST` merges the shards"},
			&cli.StringSliceFlag{Name: "visibility-grace", EnvVars: []string{"UPGRADEPLAN_VISIBILITY_GRACE"}, Usage: "override the products' visibility grace: `[KIND=]DURATION`, repeatable (how long an accepted change may stay invisible; a call whose answer was lost is not resent before the instance was seen untouched that long)"},
			&cli.DurationFlag{Name: "look-freshness", EnvVars: []string{"UPGRADEPLAN_LOOK_FRESHNESS"}, Value: executor.DefaultLookFreshness, Usage: "how old the look a call goes out on may be when its rate-limit token comes; an older one is taken again right before the call (one batched look of a group covers the calls whose tokens come within this)"},
			&cli.StringSliceFlag{Name: "notify", EnvVars: []string{"UPGRADEPLAN_NOTIFY"}, Usage: "post a summary when the run ends or stops to `[FORMAT=]URL` or [FORMAT=]env:NAME (json, slack, dingtalk, wecom, feishu; repeatable)"},
			&cli.StringFlag{Name: "metrics-file", EnvVars: []string{"UPGRADEPLAN_METRICS_FILE"}, Usage: "keep `FILE` (*.prom) current in Prometheus text format for node_exporter's textfile collector"},
			maxPlanAgeFlag(),
		}, timeoutFlags()...),
		Action: applyAction,
	}
}

func applyAction(c *cli.Context) error {
	defer tuneGC()()
	args, err := interspersedArgs(c) // `apply PLAN --out DIR`, flags after the plan
	if err != nil {
		return exitError(ExitInvalid, usageError{fmt.Errorf("apply: %w", err)})
	}
	if len(args) != 1 {
		return exitError(ExitInvalid, usageError{errors.New("apply: name exactly one plan file")})
	}
	if err := reports.CheckLogFormat(c.String("log-format")); err != nil {
		return exitError(ExitInvalid, usageError{err})
	}
	if d := c.Duration("stop-deadline"); d < 0 {
		return exitError(ExitInvalid, usageError{fmt.Errorf("apply: --stop-deadline %s: must be a positive duration, e.g. 5m (0 or unset: follow the steps in flight to the end)", d)})
	}
	stderr := c.App.ErrWriter
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	progress := reports.NewProgress(stderr, tty, c.String("log-format"))
	if tty {
		if f, ok := stderr.(*os.File); ok {
			progress.SetWidth(func() int { w, _, _ := term.GetSize(int(f.Fd())); return w })
		}
	}
	// From here on every line apply writes goes through progress, so that with
	// --log-format json every line on stderr is JSON.
	fail := func(code int, err error) error {
		if tty || c.String("log-format") != reports.LogJSON {
			return exitError(code, err)
		}
		progress.Log(slog.LevelError, "apply failed", slog.String("error", err.Error()), slog.Int("exit_code", code))
		return exitError(code, nil)
	}
	planPath := args[0]
	if err := setTimeouts(c); err != nil {
		return exitError(ExitInvalid, usageError{err})
	}
	targets, err := notifyTargets(c.StringSlice("notify"))
	if err != nil {
		return exitError(ExitInvalid, usageError{err})
	}
	reg := products.Registry()
	plan, _, err := readPlan("apply", planPath, reg)
	if err != nil {
		var coded *codedError
		if errors.As(err, &coded) && coded.err != nil {
			return fail(coded.code, coded.err)
		}
		return err
	}
	progress.Redact(secretValues(plan)...)
	// The plan's settings.notify, besides --notify: the URLs come from the environment,
	// which MissingEnv below has checked.
	for _, n := range plan.Settings.Notify {
		spec := "env:" + n.URL.FromEnv
		if n.Format != "" {
			spec = n.Format + "=" + spec
		}
		t, err := notify.ParseTarget(spec, os.Getenv)
		if err != nil && os.Getenv(n.URL.FromEnv) != "" {
			return fail(ExitInvalid, fmt.Errorf("apply: settings.notify: %w", err))
		}
		if err == nil {
			targets = append(targets, t)
		}
	}
	for _, w := range planWarnings(c, plan, reg) {
		progress.Notice("warning: " + w)
	}
	// Every secret the plan needs is read before the first call, so a missing one stops
	// apply with nothing sent instead of failing its steps halfway through the run.
	if missing := planner.MissingEnv(plan, os.Getenv); len(missing) > 0 {
		return fail(ExitInvalid, fmt.Errorf("apply: the plan needs environment variables that are not set: %s; nothing was sent", strings.Join(missing, ", ")))
	}
	out, resume := c.String("out"), false
	if dir := c.String("resume"); dir != "" {
		if out != "" && filepath.Clean(out) != filepath.Clean(dir) {
			return exitError(ExitInvalid, usageError{errors.New("apply: --out and --resume name different directories")})
		}
		out, resume = dir, true
	}
	var window *planner.Window
	if v := c.String("window"); v != "" {
		if out == "" {
			return exitError(ExitInvalid, usageError{errors.New("apply: --window moves the window of a stopped run: name its run directory with --out DIR; a new run keeps the reviewed plan's window")})
		}
		w, err := parseWindow(v)
		if err != nil {
			return exitError(ExitInvalid, usageError{fmt.Errorf("apply: --window %q: %w", v, err)})
		}
		window = w
	}
	grace, err := parseGrace(c.StringSlice("visibility-grace"))
	if err != nil {
		return exitError(ExitInvalid, usageError{fmt.Errorf("apply: --visibility-grace: %w", err)})
	}
	shortest, err := parseGrace(c.StringSlice("shortest-operation"))
	if err != nil {
		return exitError(ExitInvalid, usageError{fmt.Errorf("apply: --shortest-operation: %w", err)})
	}
	if out == "" {
		out = filepath.Join("runs", runName(plan.Manifest.Name)+"-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	state, shard, closeState, err := openState(c, resume)
	if err != nil {
		return err
	}
	defer closeState()

	var metrics *metricsSink
	if path := c.String("metrics-file"); path != "" {
		metrics = newMetricsSink(path, progress, plan)
	}
	onEvent := progress.Event
	if metrics != nil {
		onEvent = func(ev executor.Event) { progress.Event(ev); metrics.event(ev) }
	}

	// A digest file ends in a newline, and a ConfigMap key read into the environment keeps
	// it ($(PLAN_DIGEST) in docs/scheduled-apply.md): it is no part of the digest.
	expect := strings.TrimSpace(c.String("expect-digest"))
	opts := executor.Options{
		Registry:     reg,
		PlanPath:     planPath,
		Out:          out,
		Parallelism:  c.Int("parallelism"),
		DryRun:       c.Bool("dry-run"),
		Resume:       resume,
		ExpectDigest: expect,
		Window:       window,
		OnEvent:      onEvent,
		ToolVersion:  versionString(),
		LockDir:      c.String("lock-dir"),
		StopTimeout:  c.Duration("stop-timeout"),
		// The grace and shortest-operation overrides, by kind ("" for every kind).
		VisibilityGrace:   grace,
		ShortestOperation: shortest,
		LookFreshness:     c.Duration("look-freshness"),
		State:             state,
		Shard:             shard,
	}
	if metrics != nil {
		opts.OnRecord = metrics.record
	}
	stopTimeout := c.Duration("stop-timeout")
	if stopTimeout <= 0 {
		stopTimeout = executor.DefaultStopTimeout
	}
	finished := make(chan struct{})
	defer close(finished)
	deadline := c.Duration("stop-deadline")
	go watchFirstSignal(c.Context, finished, progress, stopTimeout, deadline)
	// hard ends the steps in flight: the second signal, or the stop deadline after the first.
	hard := make(chan struct{})
	var hardOnce sync.Once
	var hardWhy string // set before hard is closed, read after
	endInFlight := func(why string) { hardOnce.Do(func() { hardWhy = why; close(hard) }) }
	opts.Hard = hard
	opts.HardWhy = func() string {
		select {
		case <-hard:
			return hardWhy
		default:
			return ""
		}
	}
	if deadline > 0 {
		go func() {
			select {
			case <-c.Context.Done():
			case <-finished:
				return
			}
			select {
			case <-time.After(deadline):
				progress.Notice(fmt.Sprintf("stop deadline %s reached: the steps still in flight are recorded for the next run to reconcile; writing the record and reports", deadline))
				endInFlight(fmt.Sprintf("stop deadline %s reached", deadline))
			case <-finished:
			}
		}()
	}
	if sig := signalsFrom(c.Context); sig != nil {
		go func() {
			select {
			case <-sig.Second():
				endInFlight("second signal")
			case <-finished:
				return
			}
			select {
			case <-time.After(hardExitGrace):
				progress.Notice("second signal: exiting now; the journal is intact; continue with: " + withState(c, continueCommand(planPath, out, nil)))
				os.Exit(ExitStopped)
			case <-finished:
			}
		}()
	}
	if tty {
		go func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case now := <-tick.C:
					progress.Tick(now)
				case <-finished:
					return
				}
			}
		}()
	} else {
		// Once the run is this apply's: a run refused (exit 4, 5) never started.
		opts.OnStart = func() { logRunStarted(progress, plan, out, opts.DryRun) }
	}
	progress.SetStart(time.Now())

	// The reports are written while apply still holds the plan's lock, so a resume cannot
	// interleave its run.json with these reports.
	var reportErr error
	opts.Finish = func(rec *executor.Record) error {
		if reportErr = os.MkdirAll(out, 0o755); reportErr == nil { // with --state nothing else made it
			reportErr = reports.WriteAll(out, rec)
		}
		return nil
	}
	rec, err := executor.Apply(c.Context, plan, opts)
	progress.Close()
	code := executor.ExitCode(rec, err)
	cont := withState(c, continueCommand(planPath, out, rec))
	if metrics != nil {
		metrics.finish(rec)
	}
	if err != nil {
		err = fmt.Errorf("apply: %w", err)
		notifyEnd(progress, targets, errorSummary(plan, out, code, err, rec))
		return fail(code, err)
	}
	if reportErr != nil {
		code = max(code, ExitFailed)
		err := fmt.Errorf("apply: the run finished (%s) but its reports could not be written: %w", rec.Outcome.Result, reportErr)
		notifyEnd(progress, targets, errorSummary(plan, out, code, err, rec))
		return fail(code, err)
	}
	fmt.Fprintf(c.App.Writer, "%s: %s\n", rec.Outcome.Result, summary(rec))
	fmt.Fprintf(c.App.Writer, "run record: %s\n", filepath.Join(out, executor.RecordFile))
	if !tty {
		logRunFinished(progress, rec, out, code, cont)
	}
	s := notify.NewSummary(rec, out, reportPaths(out), "")
	if rec.Outcome.Result == "stopped" {
		s.Continue = cont
	}
	notifyEnd(progress, targets, s)
	if code == ExitOK {
		return nil
	}
	return fail(code, errors.New(endMessage(rec, cont)))
}

// notifyTargets parses the --notify values.
func notifyTargets(values []string) ([]notify.Target, error) {
	var out []notify.Target
	for _, v := range values {
		for _, one := range strings.Split(v, ",") {
			if one = strings.TrimSpace(one); one == "" {
				continue
			}
			t, err := notify.ParseTarget(one, os.Getenv)
			if err != nil {
				return nil, fmt.Errorf("apply: %w", err)
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// errorSummary is the notification of an apply that ended with an error (refused, locked,
// nothing attempted, reports not written): the on-call engineer hears of it too.
func errorSummary(plan *planner.Plan, out string, code int, err error, rec *executor.Record) notify.Summary {
	if rec != nil {
		s := notify.NewSummary(rec, out, nil, "")
		s.Reason = err.Error()
		s.ExitCode = code
		return s
	}
	return notify.Summary{
		Event: "run not started", Plan: plan.Manifest.Name, Digest: plan.Digest, RunDir: out,
		Result: "error", Reason: err.Error(), ExitCode: code, FinishedAt: time.Now().UTC(),
		Counts: map[string]int{},
	}
}

// openState opens the --state backend; nil (the run directory) when none is named.
func openState(c *cli.Context, resume bool) (executor.State, *executor.Shard, func(), error) {
	url := c.String("state")
	var shard *executor.Shard
	if v := c.String("shard"); v != "" {
		if url == "" {
			return nil, nil, nil, exitError(ExitInvalid, usageError{errors.New("apply: --shard needs --state: the shards of a run meet in its state database")})
		}
		sh, err := executor.ParseShard(v)
		if err != nil {
			return nil, nil, nil, exitError(ExitInvalid, usageError{fmt.Errorf("apply: --%w", err)})
		}
		shard = &sh
	}
	if url == "" {
		return nil, nil, func() {}, nil
	}
	if resume {
		return nil, nil, nil, exitError(ExitInvalid, usageError{errors.New("apply: --resume DIR continues a run directory; with --state the same `apply PLAN --state URL` continues the run")})
	}
	st, err := openStateURL(c, "apply", url)
	if err != nil {
		return nil, nil, nil, err
	}
	if shard != nil {
		return st.WithShard(shard.String()), shard, st.Close, nil
	}
	return st, nil, st.Close, nil
}

// openStateURL opens a --state URL (exit 1 when it is not one, carries a password, or the
// database cannot be reached).
func openStateURL(c *cli.Context, cmd, url string) (*pgstate.State, error) {
	if !pgstate.IsURL(url) {
		return nil, exitError(ExitInvalid, usageError{fmt.Errorf("%s: --state must be a postgres:// URL (the default state is the run directory)", cmd)})
	}
	st, err := pgstate.Open(c.Context, url)
	if err != nil {
		return nil, exitError(ExitInvalid, fmt.Errorf("%s: --state: %w", cmd, err))
	}
	return st, nil
}

// withState adds --state (and --shard) to a continue command: with a state database the same
// command on any machine continues the run.
func withState(c *cli.Context, cmd string) string {
	if u := c.String("state"); u != "" {
		cmd += " --state " + shellQuote(u)
		if sh := c.String("shard"); sh != "" {
			cmd += " --shard " + sh
		}
	}
	return cmd
}

// summary is "3 succeeded, 1 failed, 2 not-started" in a fixed order.
func summary(rec *executor.Record) string {
	order := []executor.Status{executor.StatusSucceeded, executor.StatusNoop, executor.StatusFailed, executor.StatusSkipped,
		executor.StatusDrifted, executor.StatusNotStarted, executor.StatusCancelled}
	var parts []string
	for _, st := range order {
		if n := rec.Counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if len(parts) == 0 {
		return "no steps"
	}
	s := parts[0]
	for _, p := range parts[1:] {
		s += ", " + p
	}
	return s
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func runName(name string) string {
	if n := unsafeName.ReplaceAllString(name, "-"); n != "" && n != "-" {
		return n
	}
	return "run"
}

// secretValues resolves every {fromEnv} reference in the plan so the progress display can
// redact the values should an API echo one in an error message.
func secretValues(p *planner.Plan) []string {
	names := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		if ref, ok := provider.AsSecretRef(v); ok {
			names[ref.FromEnv] = true
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, s := range p.Steps {
		walk(map[string]any(s.Params))
	}
	for _, a := range p.Accounts {
		names[a.Secret.FromEnv] = true
	}
	var out []string
	for n := range names {
		if v := os.Getenv(n); n != "" && v != "" {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// parseWindow reads "START/END", two RFC 3339 times (an ISO 8601 interval).
func parseWindow(v string) (*planner.Window, error) {
	a, b, ok := strings.Cut(v, "/")
	if !ok {
		return nil, errors.New("want START/END, e.g. 2026-11-29T01:00:00+08:00/2026-11-29T05:00:00+08:00")
	}
	start, err := time.Parse(time.RFC3339, a)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	end, err := time.Parse(time.RFC3339, b)
	if err != nil {
		return nil, fmt.Errorf("end: %w", err)
	}
	if !end.After(start) {
		return nil, errors.New("end must be after start")
	}
	return &planner.Window{Start: start, End: end}, nil
}

// parseGrace reads --visibility-grace values: "DURATION" for every kind, or "KIND=DURATION".
func parseGrace(values []string) (map[string]time.Duration, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]time.Duration{}
	for _, v := range values {
		kind, d, ok := strings.Cut(v, "=")
		if !ok {
			kind, d = "", v
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur <= 0 {
			return nil, fmt.Errorf("%q: want DURATION or KIND=DURATION, e.g. 90s or alibaba.kafka=2m", v)
		}
		out[kind] = dur
	}
	return out, nil
}

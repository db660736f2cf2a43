package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/internal/peakrss"
	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider/products"
)

// child is one finished subprocess.
type child struct {
	wall   time.Duration
	cpu    time.Duration
	maxRSS int64 // bytes
	exit   int
}

func runChild(ctx context.Context, bin string, env []string, stdout, stderr io.Writer, args ...string) (child, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	rss, err := os.CreateTemp("", "bench-peakrss-")
	if err != nil {
		return child{}, err
	}
	rss.Close()
	defer os.Remove(rss.Name())
	cmd.Env = append(env[:len(env):len(env)], peakrss.Env+"="+rss.Name())
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err = cmd.Run()
	c := child{wall: time.Since(start)}
	if cmd.ProcessState == nil {
		return c, fmt.Errorf("%s %s: %w", bin, args[0], err)
	}
	c.exit = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		c.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		c.maxRSS = ru.Maxrss * 1024 // Linux reports kilobytes
	}
	// The child's own high-water mark where it wrote one: ru_maxrss also counts the memory
	// exec replaced, which os/exec's vfork shares with this process (internal/peakrss).
	if n, ok := peakrss.Read(rss.Name()); ok {
		c.maxRSS = n
	}
	return c, nil
}

// simProc is the simulator subprocess.
type simProc struct {
	cmd  *exec.Cmd
	addr string
}

func startSim(bin, state, faults string, timeScale float64) (*simProc, error) {
	args := []string{"sim", "--state", state, "--listen", "127.0.0.1:0", "--time-scale", fmt.Sprint(timeScale)}
	if faults != "" {
		args = append(args, "--faults", faults)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sim: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("sim did not say where it listens: %w", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("sim said %q, want \"listening on HOST:PORT\"", line)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return &simProc{cmd: cmd, addr: addr}, nil
}

func (s *simProc) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

func (s *simProc) env() []string {
	env := append(os.Environ(), env()...)
	return append(env, "UPGRADEPLAN_ALIBABA_ENDPOINT="+s.addr, "UPGRADEPLAN_TENCENT_ENDPOINT="+s.addr)
}

// call is the part of a /_sim/calls record the bench reads.
type call struct {
	Time      time.Time         `json:"time"`
	Account   string            `json:"account"`
	Product   string            `json:"product"`
	Action    string            `json:"action"`
	Region    string            `json:"region"`
	Instance  string            `json:"instance"`
	Params    map[string]string `json:"parameters"`
	Status    int               `json:"status"`
	Code      string            `json:"code"`
	Fault     string            `json:"fault"`
	RequestID string            `json:"requestId"`
}

func (c call) throttled() bool {
	return strings.HasPrefix(c.Code, "Throttling") || c.Code == "RequestLimitExceeded" || c.Code == "ONS_SYSTEM_FLOW_CONTROL"
}

func (c call) dryRun() bool { return strings.EqualFold(c.Params["DryRun"], "true") }

// mutatingActions are the five upgrade calls, by simulator product.
var mutatingActions = map[string]string{
	"alikafka":            "UpgradeInstanceVersion",
	"dds":                 "UpgradeDBInstanceKernelVersion",
	"amqp-open":           "UpdateInstance",
	"computenestsupplier": "UpgradeServiceInstance",
	"redis":               "UpgradeInstance",
}

func (c call) mutating() bool { return mutatingActions[c.Product] == c.Action && !c.dryRun() }

// applied is the part of a /_sim/applied record the bench reads.
type applied struct {
	Product  string `json:"product"`
	Instance string `json:"instance"`
	Actor    string `json:"actor"`
	Dropped  bool   `json:"dropped"`
	// RequestID matches the change to its call; AcceptedAt and VisibleAt (simulated time)
	// give its visibility lag (lag.go).
	RequestID  string    `json:"requestId"`
	AcceptedAt time.Time `json:"acceptedAt"`
	VisibleAt  time.Time `json:"visibleAt"`
}

func fetch[T any](addr, path string) ([]T, error) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer resp.Body.Close()
	var out []T
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return out, nil
}

// keepLogs is -keep: runApplyWith also writes the apply simulator's call log and applied
// record into the run's directory.
var keepLogs bool

// saveRaw writes the simulator's answer to GET path into file as it came.
func saveRaw(addr, path, file string) error {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer resp.Body.Close()
	out, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// files is one run's temporary directory.
type files struct {
	dir, state, fleet, plan, run, planFaults, faults string
}

func writeFiles(dir string, w workload, p profile) (files, error) {
	f := files{dir: dir, state: filepath.Join(dir, "state.yaml"), fleet: filepath.Join(dir, "fleet.yaml"),
		plan: filepath.Join(dir, "plan.json"), run: filepath.Join(dir, "run")}
	write := func(path string, b []byte) error { return os.WriteFile(path, b, 0o644) }
	if err := write(f.state, w.state); err != nil {
		return f, err
	}
	if err := write(f.fleet, w.fleet); err != nil {
		return f, err
	}
	if p.planFaults != "" {
		f.planFaults = filepath.Join(dir, "plan-faults.yaml")
		if err := write(f.planFaults, []byte(p.planFaults)); err != nil {
			return f, err
		}
	}
	if p.faults != "" {
		f.faults = filepath.Join(dir, "faults.yaml")
		if err := write(f.faults, []byte(p.faults)); err != nil {
			return f, err
		}
	}
	return f, nil
}

// planned is what `upgradeplan plan` left: the plan, its cost and its calls.
type planned struct {
	plan     *planner.Plan
	child    child
	calls    []call
	fileSize int64
}

// onSim starts a simulator of the workload's state with a faults file, opens a log file
// in the run's directory and runs fn; the simulator stops when fn returns.
func onSim(bin string, f files, faults string, p profile, logName string, fn func(sim *simProc, log *os.File) error) error {
	sim, err := startSim(bin, f.state, faults, p.timeScale)
	if err != nil {
		return err
	}
	defer sim.stop()
	log, err := os.Create(filepath.Join(f.dir, logName))
	if err != nil {
		return err
	}
	defer log.Close()
	return fn(sim, log)
}

// runPlan plans the workload on its own simulator (the plan's faults).
func runPlan(ctx context.Context, bin string, f files, p profile) (out planned, err error) {
	err = onSim(bin, f, f.planFaults, p, "plan.txt", func(sim *simProc, log *os.File) error {
		if out.child, err = runChild(ctx, bin, sim.env(), log, os.Stderr, "plan", f.fleet, "-o", f.plan); err != nil {
			return err
		}
		if out.child.exit != 0 {
			return fmt.Errorf("plan exited %d (see %s; -keep keeps it)", out.child.exit, log.Name())
		}
		out.calls, err = fetch[call](sim.addr, "/_sim/calls")
		return err
	})
	if err != nil {
		return out, err
	}
	if st, err := os.Stat(f.plan); err == nil {
		out.fileSize = st.Size()
	}
	out.plan, err = planner.ReadFile(f.plan)
	return out, err
}

// appliedRun is the apply's cost, record and calls, and the simulator's applied changes.
type appliedRun struct {
	child   child
	rec     *executor.Record
	calls   []call
	applied []applied
	log     string
}

// scaledGraces are apply's flags that give each product's visibility grace its real-world
// meaning at the simulator's time scale, as the profiles' pollInterval has: a maybe-sent
// MongoDB call waits its 1-minute grace of cloud time (100 ms at 600×), not a minute of
// wall clock in which 30 upgrades could have run. The shortest operation stays as the
// products declare it: the request latencies are not scaled (50–300 ms would be minutes of
// cloud time), so looks 100 ms apart cannot be had, and a MongoDB call whose answer was
// lost would fail in doubt.
func scaledGraces(timeScale float64) []string {
	if timeScale <= 1 {
		return nil
	}
	reg := products.Registry()
	var args []string
	for _, kind := range reg.Kinds() {
		spec := reg[kind]
		scale := func(d time.Duration) string { return kind + "=" + time.Duration(float64(d)/timeScale).String() }
		if spec.VisibilityGrace > 0 {
			args = append(args, "--visibility-grace", scale(spec.VisibilityGrace))
		}
	}
	return args
}

// runApply applies the plan against a fresh simulator of the same state (the faults).
func runApply(ctx context.Context, bin string, f files, p profile) (appliedRun, error) {
	return runApplyWith(ctx, bin, f, p, "apply.log", nil)
}

// runApplyWith is runApply into f.run with the log logName, the environment extra and the
// arguments more after apply's own.
func runApplyWith(ctx context.Context, bin string, f files, p profile, logName string, extra []string, more ...string) (out appliedRun, err error) {
	args := append(append([]string{"apply", f.plan, "--out", f.run}, scaledGraces(p.timeScale)...), more...)
	err = onSim(bin, f, f.faults, p, logName, func(sim *simProc, log *os.File) error {
		out.log = log.Name()
		if out.child, err = runChild(ctx, bin, append(sim.env(), extra...), log, log, args...); err != nil {
			return err
		}
		if out.calls, err = fetch[call](sim.addr, "/_sim/calls"); err != nil {
			return err
		}
		if out.applied, err = fetch[applied](sim.addr, "/_sim/applied"); err != nil {
			return err
		}
		if keepLogs { // -keep: the simulator's own records beside the run, to look into
			base := filepath.Join(f.dir, strings.TrimSuffix(logName, ".log"))
			for path, name := range map[string]string{"/_sim/calls": "-calls.json", "/_sim/applied": "-applied.json"} {
				if err := saveRaw(sim.addr, path, base+name); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	if out.rec, err = executor.ReadRecord(f.run); err != nil {
		return out, fmt.Errorf("apply %s exited %d and left no run.json: %w", strings.Join(more, " "), out.child.exit, err)
	}
	return out, nil
}

// runProfile plans and applies one profile's workload (at its full size, or scaled); with
// pg it applies the plan a second time with --state (state.go).
func runProfile(ctx context.Context, bin string, p profile, keep bool, pg *pgBench) (result, *stateRun, error) {
	w, f, done, err := prepare(p, keep)
	if err != nil {
		return result{}, nil, err
	}
	defer done()
	start := time.Now()
	fmt.Fprintf(os.Stderr, "bench: %s: %d instances (%s); plan\n", p.name, w.instances, kindCounts(w.byKind))
	pl, err := runPlan(ctx, bin, f, p)
	if err != nil {
		return result{}, nil, fmt.Errorf("%s: %w", p.name, err)
	}
	fmt.Fprintf(os.Stderr, "bench: %s: plan has %d steps (%.1f s); apply\n", p.name, len(pl.plan.Steps), pl.child.wall.Seconds())
	ap, err := runApply(ctx, bin, f, p)
	if err != nil {
		return result{}, nil, fmt.Errorf("%s: %w", p.name, err)
	}
	if ap.child.exit != 0 {
		fmt.Fprintf(os.Stderr, "bench: %s: apply exited %d (%s); see %s (-keep keeps it)\n", p.name, ap.child.exit, ap.rec.Outcome.Result, ap.log)
	}
	r := measure(p, w, pl, ap)
	var sr *stateRun
	if pg != nil {
		fmt.Fprintf(os.Stderr, "bench: %s: makespan %.1f s; apply again with --state postgres\n", p.name, r.makespan.Seconds())
		if sr, err = compareStates(ctx, bin, f, p, pg, w, pl, r); err != nil {
			return result{}, nil, fmt.Errorf("%s --state: %w", p.name, err)
		}
		fmt.Fprintf(os.Stderr, "bench: %s: PostgreSQL adds %+.1f%% to the makespan\n", p.name, 100*sr.overhead())
	}
	r.wall = time.Since(start)
	return r, sr, nil
}

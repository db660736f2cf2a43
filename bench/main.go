// Command bench is `make bench`: it generates a 10,000-instance simulator state and a
// matching fleet, starts `upgradeplan sim` on a loopback port with a time scale, runs
// `upgradeplan plan` and `upgradeplan apply` as child processes of the built binary (CPU
// seconds and peak RSS come from their rusage), reads the simulator's call log and the run
// record, and prints one table against the targets of DESIGN.md ("Targets that the
// benchmarks and tests hold"). It writes the table, the machine and the date to
// bench/RESULTS.md.
//
// Usage: go run ./bench -bin bin/upgradeplan [-out bench/RESULTS.md] [-keep]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
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
	"github.com/upgradeplan/upgradeplan/planner"
)

// parallelism is the fleet's settings.parallelism: large enough that the rate caps, not the
// number of steps in flight, bound the run (see RESULTS.md).
const parallelism = 2000

func main() {
	bin := flag.String("bin", "bin/upgradeplan", "the upgradeplan binary to measure")
	out := flag.String("out", "bench/RESULTS.md", "where to write the results (empty: do not write)")
	keep := flag.Bool("keep", false, "keep the temporary directory (state, fleet, plan, run)")
	flag.Parse()
	if err := run(*bin, *out, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// child is one finished subprocess.
type child struct {
	wall   time.Duration
	cpu    time.Duration
	maxRSS int64 // bytes
	exit   int
}

func runChild(ctx context.Context, bin string, env []string, stdout, stderr io.Writer, args ...string) (child, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err := cmd.Run()
	c := child{wall: time.Since(start)}
	if cmd.ProcessState == nil {
		return c, fmt.Errorf("%s %s: %w", bin, args[0], err)
	}
	c.exit = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		c.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		c.maxRSS = ru.Maxrss * 1024 // Linux reports kilobytes
	}
	return c, nil
}

// simProc is the simulator subprocess.
type simProc struct {
	cmd  *exec.Cmd
	addr string
}

func startSim(bin, state string) (*simProc, error) {
	cmd := exec.Command(bin, "sim", "--state", state, "--listen", "127.0.0.1:0", "--time-scale", fmt.Sprint(timeScale))
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

// call is the part of a /_sim/calls record the bench reads.
type call struct {
	Time     time.Time         `json:"time"`
	Account  string            `json:"account"`
	Product  string            `json:"product"`
	Action   string            `json:"action"`
	Region   string            `json:"region"`
	Instance string            `json:"instance"`
	Params   map[string]string `json:"parameters"`
	Status   int               `json:"status"`
	Code     string            `json:"code"`
}

func (c call) throttled() bool {
	return strings.HasPrefix(c.Code, "Throttling") || c.Code == "RequestLimitExceeded"
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

func fetchCalls(addr string) ([]call, error) {
	resp, err := http.Get("http://" + addr + "/_sim/calls")
	if err != nil {
		return nil, fmt.Errorf("read /_sim/calls: %w", err)
	}
	defer resp.Body.Close()
	var calls []call
	if err := json.NewDecoder(resp.Body).Decode(&calls); err != nil {
		return nil, fmt.Errorf("decode /_sim/calls: %w", err)
	}
	return calls, nil
}

func run(bin, resultsPath string, keep bool) error {
	ctx := context.Background()
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: build it first (make build): %w", bin, err)
	}
	bin, _ = filepath.Abs(bin)
	dir, err := os.MkdirTemp("", "upgradeplan-bench-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintln(os.Stderr, "bench: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	w := generate()
	statePath := filepath.Join(dir, "state.yaml")
	fleetPath := filepath.Join(dir, "fleet.yaml")
	planPath := filepath.Join(dir, "plan.json")
	runDir := filepath.Join(dir, "run")
	if err := os.WriteFile(statePath, w.state, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(fleetPath, w.fleet, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: %d instances (%s); simulator time scale %d×\n", w.instances, kindCounts(w.byKind), timeScale)

	sim, err := startSim(bin, statePath)
	if err != nil {
		return err
	}
	defer sim.stop()
	env := append(os.Environ(), env()...)
	env = append(env, "UPGRADEPLAN_ALIBABA_ENDPOINT="+sim.addr, "UPGRADEPLAN_TENCENT_ENDPOINT="+sim.addr)

	planOut, err := os.Create(filepath.Join(dir, "plan.txt"))
	if err != nil {
		return err
	}
	defer planOut.Close()
	fmt.Fprintln(os.Stderr, "bench: plan")
	pc, err := runChild(ctx, bin, env, planOut, os.Stderr, "plan", fleetPath, "-o", planPath)
	if err != nil {
		return err
	}
	if pc.exit != 0 {
		return fmt.Errorf("plan exited %d", pc.exit)
	}
	planCalls, err := fetchCalls(sim.addr)
	if err != nil {
		return err
	}
	plan, err := planner.ReadFile(planPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: plan has %d steps; apply\n", len(plan.Steps))

	applyLog, err := os.Create(filepath.Join(dir, "apply.log"))
	if err != nil {
		return err
	}
	defer applyLog.Close()
	ac, err := runChild(ctx, bin, env, applyLog, applyLog, "apply", planPath, "--out", runDir)
	if err != nil {
		return err
	}
	allCalls, err := fetchCalls(sim.addr)
	if err != nil {
		return err
	}
	rec, err := executor.ReadRecord(runDir)
	if err != nil {
		return fmt.Errorf("apply exited %d and left no run.json: %w", ac.exit, err)
	}
	res := measure(w, plan, rec, pc, ac, planCalls, allCalls[len(planCalls):])
	table := res.table()
	fmt.Println(table)
	if ac.exit != 0 {
		fmt.Fprintf(os.Stderr, "bench: apply exited %d (%s); see %s\n", ac.exit, rec.Outcome.Result, filepath.Join(dir, "apply.log"))
	}
	if resultsPath != "" {
		if err := os.WriteFile(resultsPath, []byte(res.markdown(table)), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "bench: wrote", resultsPath)
	}
	if ac.exit != 0 {
		return fmt.Errorf("apply exited %d", ac.exit)
	}
	return nil
}

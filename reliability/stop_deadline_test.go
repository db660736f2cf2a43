package reliability

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
)

// Kubernetes sends one SIGTERM and, terminationGracePeriodSeconds later, SIGKILL. apply
// follows the steps in flight after the first signal until they end, which for a Kafka
// upgrade is far longer than any grace period: the pod was killed before it wrote its
// reports. With --stop-deadline the steps still in flight when it passes are recorded (an
// accepted call for the next run to follow) and apply writes its record and reports and
// exits 3, long before the upgrades end.
func TestTheStopDeadlineEndsARunWhoseStepsAreStillInFlight(t *testing.T) {
	f := fleetSize{kafka: 2}
	// Upgrades of a simulated day: about seven minutes of wall clock at time scale 200.
	state := strings.Replace(simState(f), "durations: {kafka: 20s,", "durations: {kafka: 24h,", 1)
	s := startSim(t, state, "", 200)
	dir := t.TempDir()
	env := cliEnv(s)
	planPath, _ := planFleet(t, dir, env, fleetManifest(f, 8, "50ms", 400))
	out := filepath.Join(dir, "run")

	run := startCLI(t, dir, env, "apply", planPath, "--out", out, "--stop-deadline", "300ms")
	cmd, stderr, exited := run.cmd, run.stderr, run.exited
	tail := newJournalTail(out)
	for len(tail.running) < 1 { // the canary's call accepted; the other waits for it
		select {
		case err := <-exited:
			t.Fatalf("apply ended before the canary's call was accepted: %v\n%s", err, lastLines(stderr.String(), 15))
		case <-time.After(10 * time.Millisecond):
		}
		tail.poll()
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(60 * time.Second): // the upgrades take minutes; the deadline 300 ms
		cmd.Process.Kill()
		t.Fatalf("apply still following its upgrades a minute after SIGTERM with --stop-deadline 300ms\n%s", stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != executor.ExitStopped {
		t.Fatalf("apply ended %v; want exit 3\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stop deadline 300ms reached") {
		t.Errorf("stderr does not say the stop deadline was reached:\n%s", stderr.String())
	}
	for _, name := range []string{"report.md", "junit.xml"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	rec := readRecord(t, out)
	if rec.Outcome.Result != "stopped" || !strings.Contains(rec.Outcome.Reason, "stop deadline 300ms reached") || strings.Contains(rec.Outcome.Reason, "second signal") {
		t.Errorf("outcome %+v; want stopped, the record saying the stop deadline (not a second signal) ended the steps in flight", rec.Outcome)
	}
	want := map[executor.Status]int{executor.StatusCancelled: 1, executor.StatusNotStarted: 1}
	for _, st := range rec.Steps {
		switch st.Status {
		case executor.StatusCancelled:
			if !strings.Contains(st.Reason, "accepted; resume follows it") || len(st.RequestIDs) != 1 {
				t.Errorf("step %s: %q, request ids %v; want its accepted call left for the next run to follow", st.ID, st.Reason, st.RequestIDs)
			}
		case executor.StatusNotStarted:
		default:
			t.Errorf("step %s: %s %q; want the canary cancelled in flight and the other not started", st.ID, st.Status, st.Reason)
		}
		want[st.Status]--
	}
	for st, n := range want {
		if n != 0 {
			t.Errorf("%d steps short of the expected %s", n, st)
		}
	}
	if n := mutatingCalls(s.Calls()); n != 1 {
		t.Errorf("%d mutating calls; want the canary's upgrade", n)
	}
}

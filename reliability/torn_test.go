package reliability

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
)

// A crash in the middle of writing a journal entry (power loss, a full disk) leaves a torn
// last line. The resume ignores it, and so must every later resume: the entries the resumed
// run appends may not be glued onto the torn bytes, or the journal breaks in its middle and
// the run can never be resumed again.
func TestTornJournalLineStillResumesTwice(t *testing.T) {
	f := fleetSize{kafka: 4, redis: 4}
	s := startSim(t, simState(f), `rules:
  - {action: UpgradeInstanceVersion, fault: latency, latency: 20ms}
  - {action: UpgradeInstance, fault: latency, latency: 20ms}
`, 200)
	dir := t.TempDir()
	env := cliEnv(s)
	planPath, p := planFleet(t, dir, env, fleetManifest(f, 4, "50ms", 100))
	out := filepath.Join(dir, "run")
	journal := filepath.Join(out, executor.JournalFile)

	// The first apply is killed after its first intent, and its last write torn.
	killAfter(t, dir, env, out, []string{"apply", planPath, "--out", out}, executor.EntryIntent)
	appendTo(t, journal, `{"time":"2026-11-28T01:00:00Z","type":"res`)

	// The resume reads past the torn line; it is killed once it has journaled its start.
	killAfter(t, dir, env, out, []string{"apply", planPath, "--resume", out}, executor.EntryBegin)
	if _, err := executor.ReadJournal(out); err != nil {
		t.Fatalf("after a resume of a torn journal, the journal no longer reads: %v", err)
	}

	// And the run can still be resumed to the end.
	r := cli(t, dir, env, "apply", planPath, "--resume", out)
	if r.code != 0 {
		t.Fatalf("the second resume after a torn write: want exit 0, got %s", firstLines(r, 20))
	}
	checkAllSucceeded(t, p, readRecord(t, out))
	checkOneUpgradePerChange(t, p, s.Calls())
}

// killAfter starts upgradeplan and SIGKILLs it as soon as its journal holds one more entry of
// type typ than before.
func killAfter(t *testing.T, dir string, env []string, out string, args []string, typ string) {
	t.Helper()
	// Counted line by line, as a torn line may make the whole journal unreadable.
	count := func() int {
		data, _ := os.ReadFile(filepath.Join(out, executor.JournalFile))
		return bytes.Count(data, []byte(`"type":"`+typ+`"`))
	}
	before := count()
	run := startCLI(t, dir, env, args...)
	cmd, stderr, exited := run.cmd, run.stderr, run.exited
	deadline := time.After(30 * time.Second)
	for count() <= before {
		select {
		case err := <-exited:
			t.Fatalf("upgradeplan %v ended (%v) before journaling a %s entry:\n%s", args, err, typ, lastLines(stderr.String(), 5))
		case <-deadline:
			t.Fatalf("upgradeplan %v journaled no %s entry within 30 s", args, typ)
		case <-time.After(time.Millisecond):
		}
	}
	cmd.Process.Kill()
	<-exited
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/executor"
)

// What the doc tests of docs/scheduled-apply.md and docs/github-actions.md share: the
// docs' manifest fleet/q4.yaml (testdata/docs) planned against its simulator state, the
// environment their commands run in, and what a firing leaves behind.

// q4Sim starts a simulator of testdata/docs/sim/q4.state.yaml, the state fleet/q4.yaml
// plans against, 300 times faster than the clouds.
func q4Sim(t *testing.T) *simtest.Sim {
	t.Helper()
	state, err := os.ReadFile("testdata/docs/sim/q4.state.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return simtest.Start(t, string(state), sim.Options{TimeScale: 300}, cloudsim.Products()...)
}

// q4Env is what the docs' commands find in their environment: PATH (with upgradeplan, this
// test binary), an empty HOME, the demo credentials, the password fleet/q4.yaml's Compute
// Nest parameter reads, and the simulator's endpoints.
func q4Env(t *testing.T, s *simtest.Sim) map[string]string {
	env := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": t.TempDir(),
		"ALIBABA_CLOUD_ACCESS_KEY_ID": "demo-ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "demo-sk",
		"TENCENTCLOUD_SECRET_ID": "demo-id", "TENCENTCLOUD_SECRET_KEY": "demo-key",
		"SI_PASSWORD": "anything",
	}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

func envList(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// docBlock returns the one block of the document under heading in lang.
func docBlock(t *testing.T, doc, heading, lang string) mdBlock {
	t.Helper()
	blocks, err := readBlocks("../../"+doc, doc)
	if err != nil {
		t.Fatal(err)
	}
	var found []mdBlock
	for _, b := range blocks {
		if b.Heading == heading && b.Lang == lang && b.NotRun == "" {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d %q blocks under %q, want 1", doc, len(found), lang, heading)
	}
	return found[0]
}

// runShell runs a document's command with sh -c in dir and returns its exit code and output.
func runShell(t *testing.T, c docCommand, dir string, env map[string]string) (int, string) {
	t.Helper()
	cmd := exec.Command("bash", "-c", c.Text)
	cmd.Dir, cmd.Env = dir, envList(env)
	out, err := cmd.CombinedOutput()
	return exitCode(t, err), string(out)
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

// planArtifact runs the doc's "Make the plan artifact" command in a directory holding
// fleet/q4.yaml and returns that directory, now holding plan.json.gz and plan.digest.
func planArtifact(t *testing.T, s *simtest.Sim) string {
	t.Helper()
	work := t.TempDir()
	copyTree(t, "testdata/docs/fleet", filepath.Join(work, "fleet"))
	for _, c := range shellCommands(docBlock(t, scheduledDoc, "Make the plan artifact", "sh")) {
		if code, out := runShell(t, c, work, q4Env(t, s)); code != c.Exit {
			t.Fatalf("%s: exit %d, want %d: %s\n%s", c.Pos, code, c.Exit, c.Text, out)
		}
	}
	return work
}

// copyArtifact copies the plan artifact (plan.json.gz, plan.digest) from one directory
// into another, with the file mode given.
func copyArtifact(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	for _, name := range []string{"plan.json.gz", "plan.digest"} {
		data, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, name), data, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// webhook is a loopback incoming webhook that keeps the summaries posted to it.
type webhook struct {
	*httptest.Server
	mu        sync.Mutex
	summaries []map[string]any
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var m map[string]any
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("the notification is not JSON: %v: %s", err, body)
		}
		w.mu.Lock()
		w.summaries = append(w.summaries, m)
		w.mu.Unlock()
	}))
	t.Cleanup(w.Close)
	return w
}

func (w *webhook) received() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]map[string]any(nil), w.summaries...)
}

// mutatingCalls counts the upgrade calls the simulator received (Compute Nest dry runs not
// included).
func mutatingCalls(s *simtest.Sim) int {
	n := s.Count("UpgradeInstance")
	for _, c := range s.CallsTo("UpgradeServiceInstance") {
		if c.Params["DryRun"] != "true" {
			n++
		}
	}
	return n
}

// treeState lists a directory's entries with their modes, sizes and modification times.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		b.WriteString(rel + " " + fi.Mode().String() + " " + strconv.FormatInt(fi.Size(), 10) + " " + fi.ModTime().Format(time.RFC3339Nano) + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// checkFirings checks a run directory after two firings of one command line: the first
// applied the plan, the second continued the run and found nothing to do.
func checkFirings(t *testing.T, runDir string, callsAfterFirst, callsAfterSecond int) {
	t.Helper()
	if callsAfterFirst != 2 {
		t.Errorf("the first firing made %d upgrade calls, want 2 (one per step)", callsAfterFirst)
	}
	if callsAfterSecond != callsAfterFirst {
		t.Errorf("the second firing made %d more upgrade calls, want none", callsAfterSecond-callsAfterFirst)
	}
	rec, err := executor.ReadRecord(runDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Segments) != 2 || !rec.Segments[1].Resumed {
		t.Errorf("run.json has %d segments (%+v), want two: the first firing and its continuation", len(rec.Segments), rec.Segments)
	}
	if rec.Outcome.Result != "succeeded" || rec.Outcome.ExitCode != 0 {
		t.Errorf("run.json outcome %+v, want succeeded, exit 0", rec.Outcome)
	}
	for _, st := range rec.Steps {
		if st.Status != executor.StatusSucceeded {
			t.Errorf("step %s is %s, want succeeded", st.ID, st.Status)
		}
	}
}

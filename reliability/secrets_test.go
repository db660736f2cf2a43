package reliability

import (
	"bytes"
	"encoding/json"
	"html"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/planner"
)

// secretValue is an unusual password: spaces, quotes, JSON/HTML/URL/XML metacharacters and
// non-ASCII, so that it looks different in every encoding a leak could take. Its core
// "s3cr3tCore" survives all of them.
const (
	secretValue = `Zq9 s3cr3tCore "qu<o>te" & ü/+=%?#☃`
	secretCore  = "s3cr3tCore"
)

// secretForms are the ways the value could appear in a file or a log line.
func secretForms() []string {
	plain, _ := json.Marshal(secretValue)
	var noHTML bytes.Buffer
	enc := json.NewEncoder(&noHTML)
	enc.SetEscapeHTML(false)
	enc.Encode(secretValue)
	return []string{
		secretCore, secretValue,
		strings.Trim(string(plain), `"`), strings.Trim(strings.TrimSpace(noHTML.String()), `"`),
		url.QueryEscape(secretValue), url.PathEscape(secretValue), html.EscapeString(secretValue),
	}
}

// checkNoSecret fails when text holds the secret in any form.
func checkNoSecret(t *testing.T, where string, text []byte) {
	t.Helper()
	for _, f := range secretForms() {
		if i := bytes.Index(text, []byte(f)); i >= 0 {
			lo, hi := max(0, i-80), min(len(text), i+len(f)+40)
			t.Errorf("%s holds the secret (as %q): ...%s...", where, f, text[lo:hi])
			return
		}
	}
}

// checkTreeHasNoSecret checks every file under dir.
func checkTreeHasNoSecret(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		checkNoSecret(t, path, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sentSecret counts the upgrade calls (dry runs included when dryRuns) whose Parameters carry
// the secret as InstancePassword.
func sentSecret(calls []sim.CallRecord, dryRuns bool) int {
	n := 0
	for _, c := range calls {
		if c.Action != "UpgradeServiceInstance" || (!dryRuns && c.Params["DryRun"] == "true") {
			continue
		}
		var params map[string]any
		if json.Unmarshal([]byte(c.Unmasked("Parameters")), &params) == nil && params["InstancePassword"] == secretValue {
			n++
		}
	}
	return n
}

// A fleet whose Compute Nest password comes from {fromEnv: ...}: plan, apply (JSON log lines)
// and report through the command line. The password reaches the cloud, and nothing else: not
// the plan file, not any file of the run directory, not stdout or stderr of any command. The
// same holds when the upgrade call fails and when its answer is lost (an SDK transport error
// quotes the request URL, which carries the parameters).
func TestSecretParameterReachesTheCloudAndNothingElse(t *testing.T) {
	f := fleetSize{kafka: 1, nest: 3}
	state := simState(f)
	s := startSim(t, state, "", 200)
	dir := t.TempDir()
	env := cliEnv(s, "REL_SI_PASSWORD="+secretValue)
	var outputs []struct {
		what string
		r    result
	}
	record := func(what string, r result) result {
		outputs = append(outputs, struct {
			what string
			r    result
		}{what, r})
		return r
	}

	// plan, in every format.
	writeFile(t, dir, "fleet.yaml", fleetManifest(f, 4, "50ms", 50))
	if r := record("plan", cli(t, dir, env, "plan", "fleet.yaml", "-o", "plan.json")); r.code != 0 {
		t.Fatalf("plan: %s", r)
	}
	for _, format := range []string{"markdown", "json"} {
		record("plan --format "+format, cli(t, dir, env, "plan", "fleet.yaml", "--format", format))
		record("show --format "+format, cli(t, dir, env, "show", "plan.json", "--format", format))
	}
	planFile, err := os.ReadFile(filepath.Join(dir, "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(planFile, []byte(`"fromEnv": "REL_SI_PASSWORD"`)) {
		t.Errorf("the plan file does not show the reviewer where the password comes from")
	}

	// apply, logging JSON lines, then every report.
	r := record("apply", cli(t, dir, env, "apply", "plan.json", "--out", "run", "--log-format", "json"))
	if r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	if !strings.Contains(r.stderr, `"level":"INFO"`) {
		t.Errorf("apply wrote no JSON log lines to check:\n%s", r.stderr)
	}
	for _, format := range []string{"markdown", "junit", "json"} {
		if r := record("report --format "+format, cli(t, dir, env, "report", "run/run.json", "--format", format)); r.code != 0 {
			t.Errorf("report --format %s: %s", format, r)
		}
	}
	if n := sentSecret(s.Calls(), false); n != f.nest {
		t.Errorf("the cloud received the password in %d upgrade calls, want %d: the test would not notice a leak", n, f.nest)
	}

	// Error paths, against a cloud in the same state that misbehaves: one upgrade's answer
	// is lost after it was applied, another always fails with 500.
	broken := startSim(t, state, `rules:
  - {action: UpgradeServiceInstance, instance: si-rel-000, times: 1, fault: drop}
  - {action: UpgradeServiceInstance, instance: si-rel-001, fault: internal-error}
`, 200)
	benv := cliEnv(broken, "REL_SI_PASSWORD="+secretValue)
	// A plan is applied once: the misbehaving cloud gets a plan file of its own, the same
	// steps made a second later (planning against it would meet its failing dry runs).
	copyPlanLater(t, filepath.Join(dir, "plan.json"), filepath.Join(dir, "plan-failing.json"))
	r = record("apply against failing upgrades", cli(t, dir, benv, "apply", "plan-failing.json", "--out", "run-failing", "--log-format", "json"))
	if r.code != 2 {
		t.Errorf("apply with a failing upgrade: want exit 2, got %s", firstLines(r, 30))
	}
	rec := readRecord(t, filepath.Join(dir, "run-failing"))
	failed := false
	for _, st := range rec.Steps {
		if st.Instance == "si-rel-001" {
			failed = st.Status == "failed" && st.Error != nil && st.Error.Message != ""
		}
	}
	if !failed {
		t.Errorf("si-rel-001's upgrade did not fail with an error message in run.json; the error path was not taken")
	}
	drops := 0
	for _, c := range broken.Calls() {
		if c.Fault == string(sim.FaultDrop) && c.Instance == "si-rel-000" {
			drops++
		}
	}
	if drops != 1 || sentSecret(broken.Calls(), false) < 2 {
		t.Errorf("the failing cloud dropped %d answers for si-rel-000 and received the password %d times; want the error paths taken with the password sent",
			drops, sentSecret(broken.Calls(), false))
	}
	for _, format := range []string{"markdown", "junit", "json"} {
		record("report of the failing run --format "+format, cli(t, dir, benv, "report", "run-failing/run.json", "--format", format))
	}
	for _, o := range outputs {
		checkNoSecret(t, o.what+" stdout", []byte(o.r.stdout))
		checkNoSecret(t, o.what+" stderr", []byte(o.r.stderr))
	}
	if n := checkTreeHasNoSecret(t, dir); n < 10 {
		t.Errorf("only %d files checked; want the plan, its lock and every run directory's journal, record and reports", n)
	}
}

// copyPlanLater writes the plan at from to to as if planned a second later: the same steps,
// another created_at, so another digest.
func copyPlanLater(t *testing.T, from, to string) {
	t.Helper()
	p, err := planner.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	p.CreatedAt = p.CreatedAt.Add(time.Second)
	if err := planner.WriteFile(to, p); err != nil {
		t.Fatal(err)
	}
}

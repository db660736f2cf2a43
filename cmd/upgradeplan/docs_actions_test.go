package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// docs/github-actions.md's workflow (the file docs/workflows/upgradeplan-plan.yml, shown
// verbatim; packaging/ checks the two agree and actionlint lints it): its shell steps run
// as GitHub runs them, against the simulator, on a pull request's manifest with changes, one
// already applied, one with mistakes and one that cannot be planned.

const actionsDoc = "docs/github-actions.md"

type workflow struct {
	Env  map[string]string
	Jobs map[string]struct {
		Env   map[string]string
		Steps []workflowStep
	}
}

type workflowStep struct {
	Name, ID, If, Uses, Run, Shell string
	Env                            map[string]string
}

// actionsSecrets stand in for the repository's secrets: the demo accounts' keys.
var actionsSecrets = map[string]string{
	"UPGRADEPLAN_READONLY_AK": "demo-ak", "UPGRADEPLAN_READONLY_SK": "demo-sk",
	"UPGRADEPLAN_READONLY_TC_ID": "demo-id", "UPGRADEPLAN_READONLY_TC_KEY": "demo-key",
}

var secretExpr = regexp.MustCompile(`\$\{\{\s*secrets\.([A-Za-z0-9_]+)\s*\}\}`)

// annotation is the form of a GitHub workflow command for an error at a position.
var annotation = regexp.MustCompile(`^::error file=([^,]+),line=(\d+),col=(\d+)(,title=[^:]*)?::(.+)$`)

// actionsJob reads the workflow from the doc: the job's steps by name, and the environment
// a step's run script gets (the workflow's and the job's env, secrets filled in).
func actionsJob(t *testing.T) (steps map[string]workflowStep, env map[string]string) {
	t.Helper()
	block := docBlock(t, actionsDoc, "Reviewing plans in pull requests (GitHub Actions)", "yaml")
	var wf workflow
	if err := yaml.Unmarshal([]byte(strings.Join(block.Lines, "\n")), &wf); err != nil {
		t.Fatalf("%s:%d: %v", block.File, block.Line, err)
	}
	job, ok := wf.Jobs["plan"]
	if !ok || len(wf.Jobs) != 1 {
		t.Fatalf("%s:%d: want the one job plan, got %d jobs", block.File, block.Line, len(wf.Jobs))
	}
	env = map[string]string{}
	for _, m := range []map[string]string{wf.Env, job.Env} {
		for k, v := range m {
			env[k] = secretExpr.ReplaceAllStringFunc(v, func(s string) string {
				name := secretExpr.FindStringSubmatch(s)[1]
				val, ok := actionsSecrets[name]
				if !ok {
					t.Fatalf("%s:%d: env %s reads secrets.%s, which the test does not know", block.File, block.Line, k, name)
				}
				return val
			})
			if strings.Contains(env[k], "${{") {
				t.Fatalf("%s:%d: env %s: %s is more than the test evaluates", block.File, block.Line, k, v)
			}
		}
	}
	steps = map[string]workflowStep{}
	for _, st := range job.Steps {
		if st.Run == "" {
			continue
		}
		if st.If != "" || st.Shell != "" || len(st.Env) > 0 || strings.Contains(st.Run, "${{") {
			t.Fatalf("%s:%d: step %q has if/shell/env or an expression the test does not evaluate", block.File, block.Line, st.Name)
		}
		steps[st.Name] = st
	}
	// Installing is what the test binary on PATH stands in for; every other shell step runs.
	if install := steps["Install upgradeplan"]; !strings.HasPrefix(install.Run, "go install ") {
		t.Fatalf("%s:%d: no Install upgradeplan step with go install", block.File, block.Line)
	}
	delete(steps, "Install upgradeplan")
	for _, name := range []string{"Validate", "Plan"} {
		if _, ok := steps[name]; !ok || len(steps) != 2 {
			t.Fatalf("%s:%d: want the shell steps Validate and Plan besides the install, got %v", block.File, block.Line, steps)
		}
	}
	return steps, env
}

// runStep runs a step's script as GitHub runs a run: without a shell (bash -e), in the
// workspace, and returns its exit code, what it printed and what it wrote to $GITHUB_OUTPUT.
func runStep(t *testing.T, st workflowStep, workspace string, env map[string]string) (code int, out string, outputs map[string]string) {
	t.Helper()
	script := filepath.Join(t.TempDir(), "step.sh")
	output := filepath.Join(t.TempDir(), "github_output")
	if err := os.WriteFile(script, []byte(st.Run), 0o600); err != nil {
		t.Fatal(err)
	}
	all := map[string]string{"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": workspace, "GITHUB_OUTPUT": output}
	for k, v := range env {
		all[k] = v
	}
	cmd := exec.Command("bash", "-e", script)
	cmd.Dir, cmd.Env = workspace, envList(all)
	b, err := cmd.CombinedOutput()
	code = exitCode(t, err)
	outputs = map[string]string{}
	data, _ := os.ReadFile(output)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			outputs[k] = v
		}
	}
	return code, string(b), outputs
}

func TestGitHubActionsWorkflowStepsAgainstTheSimulator(t *testing.T) {
	t.Parallel() // its commands' environment is their own, not the test process's
	steps, wfEnv := actionsJob(t)
	s := q4Sim(t)
	env := q4Env(t, s)
	delete(env, "SI_PASSWORD") // the job has read-only credentials and no parameters: plan needs none
	for k, v := range wfEnv {
		env[k] = v
	}
	if env["MANIFEST"] != "fleet/q4.yaml" {
		t.Fatalf("the workflow plans %q; the test's manifest is fleet/q4.yaml", env["MANIFEST"])
	}
	workspace := t.TempDir()
	copyTree(t, "testdata/docs/fleet", filepath.Join(workspace, "fleet"))

	code, out, _ := runStep(t, steps["Validate"], workspace, env)
	if code != 0 {
		t.Fatalf("Validate exited %d on a valid manifest:\n%s", code, out)
	}
	code, out, outputs := runStep(t, steps["Plan"], workspace, env)
	digest, _ := os.ReadFile(filepath.Join(workspace, "plan.digest"))
	md, _ := os.ReadFile(filepath.Join(workspace, "plan.md"))
	if code != 0 || outputs["changes"] != "true" || outputs["digest"] != strings.TrimSpace(string(digest)) || len(digest) < 64 {
		t.Fatalf("Plan with changes: exit %d, outputs %v, plan.digest %q; want 0, changes=true and the digest:\n%s", code, outputs, digest, out)
	}
	if !strings.HasPrefix(string(md), "### upgradeplan plan") || !strings.Contains(string(md), outputs["digest"]) {
		t.Errorf("plan.md is not the plan comment with its digest:\n%s", md)
	}

	// The change window applies the reviewed plan; a later push plans nothing to do.
	apply := exec.Command("upgradeplan", "apply", "plan.json", "--expect-digest", outputs["digest"], "--out", "runs/q4")
	apply.Dir, apply.Env = workspace, append(envList(env), "SI_PASSWORD=anything")
	if b, err := apply.CombinedOutput(); exitCode(t, err) != 0 {
		t.Fatalf("applying the reviewed plan: %v\n%s", err, b)
	}
	if code, out, outputs := runStep(t, steps["Plan"], workspace, env); code != 0 || outputs["changes"] != "false" {
		t.Errorf("Plan after the apply: exit %d, outputs %v; want 0 and changes=false:\n%s", code, outputs, out)
	}

	// A manifest with a mistake: annotations at its positions, and the check fails.
	broken := strings.Replace(readFile(t, "testdata/docs/fleet/q4.yaml"), "memSizeMB: 8192", "memSizeMB: 3000", 1)
	writeFile(t, filepath.Join(workspace, "fleet/q4.yaml"), broken)
	code, out, _ = runStep(t, steps["Validate"], workspace, env)
	var annotations []string
	for _, line := range strings.Split(out, "\n") {
		if m := annotation.FindStringSubmatch(line); m != nil && m[1] == "fleet/q4.yaml" {
			annotations = append(annotations, line)
		}
	}
	if code != 1 || len(annotations) != 1 || !strings.Contains(annotations[0], "memSizeMB: 3000 is not a multiple of 1024") {
		t.Errorf("Validate on a mistake: exit %d, annotations %q; want 1 and one annotation of memSizeMB:\n%s", code, annotations, out)
	}
	// The doc shows this very annotation (of the same mistake in its fleet/q4.yaml).
	if m := regexp.MustCompile("`(::error [^`]*)`").FindStringSubmatch(readFile(t, "../../"+actionsDoc)); m == nil || len(annotations) == 1 && m[1] != annotations[0] {
		t.Errorf("%s: the annotation it shows (%v) is not what validate --format github prints: %q", actionsDoc, m, annotations)
	}

	// Other CIs read the same problems as JSON.
	var report struct {
		Problems []struct {
			File, Path, Message string
			Line, Column        int
		}
	}
	vj := exec.Command("upgradeplan", "validate", "--format", "json", "fleet/q4.yaml")
	vj.Dir, vj.Env = workspace, envList(env)
	b, err := vj.Output()
	if exitCode(t, err) != 1 || json.Unmarshal(b, &report) != nil || len(report.Problems) != 1 ||
		report.Problems[0].Path != "targets[1].desired.memSizeMB" || report.Problems[0].Line == 0 || report.Problems[0].Column == 0 {
		t.Errorf("validate --format json: %v\n%s", err, b)
	}

	// A manifest that cannot be planned (an id the cloud does not have): the step fails.
	writeFile(t, filepath.Join(workspace, "fleet/q4.yaml"), strings.Replace(readFile(t, "testdata/docs/fleet/q4.yaml"), "si-q4-1", "si-missing", 1))
	if code, out, outputs := runStep(t, steps["Plan"], workspace, env); code != 1 || len(outputs) != 0 {
		t.Errorf("Plan of an unplannable manifest: exit %d, outputs %v; want 1 and no outputs:\n%s", code, outputs, out)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/upgradeplan/upgradeplan/executor"
)

// docs/scheduled-apply.md run as written: its plan command makes the artifact, and the
// CronJob's container command line and the cron line each fire twice against the simulator.

const scheduledDoc = "docs/scheduled-apply.md"

// cronJob is what the test takes from the doc's CronJob (docs/k8scheck decodes all of it
// strictly against batch/v1).
type cronJob struct {
	Spec struct {
		JobTemplate struct {
			Spec struct {
				Template struct {
					Spec struct {
						TerminationGracePeriodSeconds *int64 `yaml:"terminationGracePeriodSeconds"`
						Containers                    []struct {
							Args []string
							Env  []struct {
								Name, Value string
								ValueFrom   *struct {
									ConfigMapKeyRef *struct{ Name, Key string } `yaml:"configMapKeyRef"`
								} `yaml:"valueFrom"`
							}
							EnvFrom []struct {
								SecretRef *struct{ Name string } `yaml:"secretRef"`
							} `yaml:"envFrom"`
							VolumeMounts []struct {
								Name      string
								MountPath string `yaml:"mountPath"`
								ReadOnly  bool   `yaml:"readOnly"`
							} `yaml:"volumeMounts"`
						}
						Volumes []struct {
							Name      string
							ConfigMap *struct{ Name string } `yaml:"configMap"`
						}
					}
				}
			}
		} `yaml:"jobTemplate"`
	}
}

// k8sVar is a Kubernetes dependent variable reference in args: $(NAME), or $$ for a $.
var k8sVar = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)`)

// expandK8s expands $(NAME) from env as the kubelet does; an undefined name stays as written.
func expandK8s(s string, env map[string]string) string {
	return k8sVar.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// mapPaths rewrites the container paths in s under each mount point to the host directory
// standing in for the volume.
func mapPaths(s string, mounts map[string]string) string {
	for mp, dir := range mounts {
		s = regexp.MustCompile(`(^|[=:\s])`+regexp.QuoteMeta(mp)+`(/|$)`).ReplaceAllString(s, "${1}"+dir+"${2}")
	}
	return s
}

// imageCommand reads the Containerfile's ENTRYPOINT (the program the container runs) and
// its ENV.
func imageCommand(t *testing.T) (program string, env map[string]string) {
	t.Helper()
	data, err := os.ReadFile("../../Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	env = map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "ENTRYPOINT "); ok {
			var argv []string
			if err := json.Unmarshal([]byte(rest), &argv); err != nil || len(argv) != 1 {
				t.Fatalf("Containerfile: ENTRYPOINT %s: want one program in exec form (%v)", rest, err)
			}
			program = argv[0]
		}
		if rest, ok := strings.CutPrefix(line, "ENV "); ok {
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
	}
	if filepath.Base(program) != "upgradeplan" {
		t.Fatalf("Containerfile: ENTRYPOINT %q, want the upgradeplan binary", program)
	}
	return program, env
}

func TestScheduledApplyCronJobFiresTwiceWithAReadOnlyPlanVolume(t *testing.T) {
	t.Parallel() // its commands' environment is their own, not the test process's
	block := docBlock(t, scheduledDoc, "Kubernetes CronJob", "yaml")
	var cj cronJob
	if err := yaml.Unmarshal([]byte(strings.Join(block.Lines, "\n")), &cj); err != nil {
		t.Fatalf("%s:%d: %v", block.File, block.Line, err)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec

	if len(pod.Containers) != 1 {
		t.Fatalf("%s:%d: %d containers, want 1", block.File, block.Line, len(pod.Containers))
	}
	ctr := pod.Containers[0]
	// The grace period outlasts apply's stop deadline (an upgrade in flight is followed
	// no longer) and its stop timeout, and the doc's comment names the deadline.
	var deadline time.Duration
	for _, a := range ctr.Args {
		if v, ok := strings.CutPrefix(a, "--stop-deadline="); ok {
			deadline, _ = time.ParseDuration(v)
		}
	}
	if deadline <= 0 {
		t.Fatalf("%s:%d: the container has no --stop-deadline: after SIGTERM apply would follow an upgrade past the grace period", block.File, block.Line)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= max(deadline, executor.DefaultStopTimeout) {
		t.Errorf("%s:%d: terminationGracePeriodSeconds %v, want more than apply's --stop-deadline %s and --stop-timeout default %s", block.File, block.Line, g, deadline, executor.DefaultStopTimeout)
	}
	if short := strings.TrimSuffix(deadline.String(), "0s"); !strings.Contains(strings.Join(block.Lines, "\n"), "--stop-deadline ("+short+")") {
		t.Errorf("%s:%d: the CronJob's comment does not name apply's --stop-deadline (%s)", block.File, block.Line, short)
	}

	s := q4Sim(t)
	artifact := planArtifact(t, s)

	// The volumes: the ConfigMap (the doc's kubectl command makes one key per file) as a
	// read-only directory, the run volume as an empty one.
	plansDir, runsDir := t.TempDir(), t.TempDir()
	mounts := map[string]string{}
	configMaps := map[string]string{} // ConfigMap name -> directory
	for _, m := range ctr.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name != m.Name {
				continue
			}
			if v.ConfigMap != nil {
				if !m.ReadOnly {
					t.Errorf("%s:%d: the plan volume %s is not mounted readOnly", block.File, block.Line, m.MountPath)
				}
				mounts[m.MountPath], configMaps[v.ConfigMap.Name] = plansDir, plansDir
			} else {
				mounts[m.MountPath] = runsDir
			}
		}
	}
	if len(configMaps) != 1 || len(mounts) != 2 {
		t.Fatalf("%s:%d: want one ConfigMap volume and one run volume, got mounts %v", block.File, block.Line, mounts)
	}
	copyArtifact(t, artifact, plansDir, 0o444)
	if err := os.Chmod(plansDir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(plansDir, 0o755) })
	before := treeState(t, plansDir)

	// The container's environment: the image's ENV, then the Secret, then env (the
	// ConfigMap key read whole, as the kubelet does), then $(NAME) in args.
	program, imageEnv := imageCommand(t)
	home := t.TempDir()
	env := map[string]string{"PATH": os.Getenv("PATH")}
	for k, v := range imageEnv {
		env[k] = v
	}
	env["HOME"] = home // the image's home directory (also its WORKDIR), empty
	hook := newWebhook(t)
	if len(ctr.EnvFrom) != 1 || ctr.EnvFrom[0].SecretRef == nil {
		t.Fatalf("%s:%d: want the credentials from one Secret (envFrom secretRef)", block.File, block.Line)
	}
	secret := q4Env(t, s) // the credentials, SI_PASSWORD and (here) the simulator's endpoints
	delete(secret, "PATH")
	delete(secret, "HOME")
	secret["UPGRADEPLAN_NOTIFY_URL"] = hook.URL
	for k, v := range secret {
		env[k] = v
	}
	for _, e := range ctr.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
			dir, ok := configMaps[e.ValueFrom.ConfigMapKeyRef.Name]
			if !ok {
				t.Fatalf("%s:%d: env %s reads ConfigMap %q, which no volume mounts", block.File, block.Line, e.Name, e.ValueFrom.ConfigMapKeyRef.Name)
			}
			data, err := os.ReadFile(filepath.Join(dir, e.ValueFrom.ConfigMapKeyRef.Key))
			if err != nil {
				t.Fatalf("%s:%d: env %s: the ConfigMap has no key %s", block.File, block.Line, e.Name, e.ValueFrom.ConfigMapKeyRef.Key)
			}
			env[e.Name] = string(data)
		default:
			env[e.Name] = mapPaths(e.Value, mounts)
		}
	}
	var args []string
	for _, a := range ctr.Args {
		args = append(args, mapPaths(expandK8s(a, env), mounts))
	}

	fire := func(n int) {
		t.Helper()
		cmd := exec.Command(filepath.Base(program), args...)
		cmd.Dir, cmd.Env = home, envList(env)
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if code := exitCode(t, cmd.Run()); code != 0 {
			t.Fatalf("firing %d of the CronJob's command exited %d, want 0:\n%s", n, code, stderr.String())
		}
		for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if !json.Valid([]byte(line)) {
				t.Errorf("firing %d: a stderr line is not JSON (--log-format=json): %s", n, line)
			}
		}
	}
	fire(1)
	first := mutatingCalls(s)
	fire(2)
	checkFirings(t, filepath.Join(runsDir, "q4"), first, mutatingCalls(s))

	if after := treeState(t, plansDir); after != before {
		t.Errorf("apply changed the read-only plan volume:\nbefore:\n%safter:\n%s", before, after)
	}
	if locks, _ := os.ReadDir(filepath.Join(runsDir, "locks")); len(locks) == 0 {
		t.Error("nothing in /runs/locks: the lock directory did not come from the CronJob's UPGRADEPLAN_LOCK_DIR")
	}
	got := hook.received()
	if len(got) != 2 {
		t.Fatalf("the webhook got %d notifications, want one per firing", len(got))
	}
	for i, m := range got {
		if m["result"] != "succeeded" || m["exit_code"] != float64(0) {
			t.Errorf("notification %d: result %v, exit code %v; want succeeded, 0", i+1, m["result"], m["exit_code"])
		}
	}
}

func TestScheduledApplyCronLineFiresTwice(t *testing.T) {
	t.Parallel() // its commands' environment is their own, not the test process's
	block := docBlock(t, scheduledDoc, "cron", "")
	var entry string
	var line int
	for i, l := range block.Lines {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			entry, line = t, block.Line+1+i
		}
	}
	// Five schedule fields, then the command, as cron reads it.
	command := entry
	for range 5 {
		command = strings.TrimLeft(command, " \t")
		command = strings.TrimLeft(command[strings.IndexAny(command, " \t"):], " \t")
	}
	pos := block.File + ":" + strconv.Itoa(line)
	if !strings.HasPrefix(command, "cd /srv/upgradeplan && ") {
		t.Fatalf("%s: the cron command %q does not start with cd /srv/upgradeplan", pos, command)
	}

	s := q4Sim(t)
	artifact := planArtifact(t, s)
	srv := t.TempDir() // /srv/upgradeplan, holding the plan artifact
	copyArtifact(t, artifact, srv, 0o644)
	// cron's environment: HOME, LOGNAME, PATH, SHELL; the machine's credentials (here in the
	// environment, with the simulator's endpoints).
	env := q4Env(t, s)
	env["LOGNAME"], env["SHELL"] = "upgradeplan", "/bin/sh"
	c := docCommand{Pos: pos, Text: strings.ReplaceAll(command, "/srv/upgradeplan", srv)}
	var calls []int
	for n := 1; n <= 2; n++ {
		cmd := exec.Command("/bin/sh", "-c", c.Text)
		cmd.Dir, cmd.Env = env["HOME"], envList(env)
		out, err := cmd.CombinedOutput()
		if code := exitCode(t, err); code != 0 {
			log, _ := os.ReadFile(filepath.Join(srv, "runs", "q4.log"))
			t.Fatalf("%s: firing %d exited %d, want 0: %s\n%s%s", pos, n, code, command, out, log)
		}
		calls = append(calls, mutatingCalls(s))
	}
	checkFirings(t, filepath.Join(srv, "runs", "q4"), calls[0], calls[1])
	log, err := os.ReadFile(filepath.Join(srv, "runs", "q4.log"))
	if err != nil || strings.Count(string(log), "run record: ") != 2 {
		t.Errorf("runs/q4.log does not hold both firings' output (%v):\n%s", err, log)
	}
	if locks, _ := os.ReadDir(filepath.Join(env["HOME"], ".cache", "upgradeplan", "locks")); len(locks) == 0 {
		t.Error("the plan locks are not in ~/.cache/upgradeplan/locks, where the doc says they are")
	}
}

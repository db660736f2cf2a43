package k8scheck

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"
)

// stopDeadline returns the container's --stop-deadline: after SIGTERM apply follows the
// steps in flight for at most this long, then writes the record and exits. Without it an
// upgrade in flight is followed to its end, tens of minutes; the pod's grace period must
// be longer, or the kubelet's SIGKILL cuts the record short.
func stopDeadline(t *testing.T, args []string) time.Duration {
	t.Helper()
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--stop-deadline="); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("--stop-deadline=%s: %v", v, err)
			}
			return d
		}
	}
	t.Fatalf("container args %q have no --stop-deadline: after SIGTERM apply would follow an upgrade past the grace period", args)
	return 0
}

// yamlBlocks returns the ```yaml blocks of a Markdown file.
func yamlBlocks(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

func TestScheduledApplyCronJobIsAValidBatchV1CronJob(t *testing.T) {
	var found int
	for _, block := range yamlBlocks(t, "../scheduled-apply.md") {
		if !strings.Contains(block, "kind: CronJob") {
			continue
		}
		found++
		var cj batchv1.CronJob
		if err := yaml.UnmarshalStrict([]byte(block), &cj); err != nil {
			t.Fatalf("the CronJob in docs/scheduled-apply.md does not decode strictly as batch/v1: %v", err)
		}
		if cj.APIVersion != "batch/v1" || cj.Kind != "CronJob" {
			t.Errorf("apiVersion/kind = %s/%s", cj.APIVersion, cj.Kind)
		}
		spec := cj.Spec
		if spec.TimeZone == nil || *spec.TimeZone == "" {
			t.Error("spec.timeZone is not set: the schedule would be read in the controller's zone")
		} else if _, err := time.LoadLocation(*spec.TimeZone); err != nil {
			t.Errorf("spec.timeZone %q: %v", *spec.TimeZone, err)
		}
		if spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			t.Errorf("concurrencyPolicy = %q, want Forbid", spec.ConcurrencyPolicy)
		}
		pod := spec.JobTemplate.Spec.Template.Spec
		if len(pod.Containers) == 1 {
			if g, d := pod.TerminationGracePeriodSeconds, stopDeadline(t, pod.Containers[0].Args); g == nil || time.Duration(*g)*time.Second <= d {
				t.Errorf("terminationGracePeriodSeconds = %v, want longer than apply's --stop-deadline (%s)", g, d)
			}
		}
		if pod.RestartPolicy != "Never" {
			t.Errorf("restartPolicy = %q, want Never (a failed run is looked at, not retried blindly)", pod.RestartPolicy)
		}
		if len(pod.Containers) != 1 {
			t.Fatalf("want one container, got %d", len(pod.Containers))
		}
		args := strings.Join(pod.Containers[0].Args, " ")
		for _, want := range []string{"apply", "--out=", "--expect-digest="} {
			if !strings.Contains(args, want) {
				t.Errorf("container args %q lack %q", args, want)
			}
		}
		if strings.Contains(args, "--resume") {
			t.Errorf("container args %q use --resume: apply --out continues a run by itself, and --resume fails on the first firing", args)
		}
		readOnly := false
		for _, m := range pod.Containers[0].VolumeMounts {
			if m.MountPath == "/plans" && m.ReadOnly {
				readOnly = true
			}
		}
		if !readOnly {
			t.Error("the plans volume is not mounted read-only at /plans")
		}
	}
	if found != 1 {
		t.Fatalf("docs/scheduled-apply.md shows %d CronJobs, want 1", found)
	}
}

// The Indexed Job beside the CronJob: a valid batch/v1 Job whose pods each run their shard
// of one plan against the PostgreSQL state.
func TestScheduledApplyIndexedJobShardsOnePlan(t *testing.T) {
	var found int
	for _, block := range yamlBlocks(t, "../scheduled-apply.md") {
		if !strings.Contains(block, "kind: Job\n") {
			continue
		}
		found++
		var job batchv1.Job
		if err := yaml.UnmarshalStrict([]byte(block), &job); err != nil {
			t.Fatalf("the Job in docs/scheduled-apply.md does not decode strictly as batch/v1: %v", err)
		}
		spec := job.Spec
		if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion {
			t.Error("completionMode is not Indexed: the pods would not know their shard")
		}
		if spec.Completions == nil || spec.Parallelism == nil || *spec.Completions != *spec.Parallelism {
			t.Error("completions and parallelism differ: some shards would wait for others to end")
		}
		pod := spec.Template.Spec
		if g, d := pod.TerminationGracePeriodSeconds, stopDeadline(t, pod.Containers[0].Args); g == nil || time.Duration(*g)*time.Second <= d {
			t.Errorf("terminationGracePeriodSeconds = %v, want longer than apply's --stop-deadline (%s)", g, d)
		}
		args := strings.Join(pod.Containers[0].Args, " ")
		want := fmt.Sprintf("--shard=$(JOB_COMPLETION_INDEX)/%d", *spec.Completions)
		for _, w := range []string{"--state=postgres://", want, "--expect-digest="} {
			if !strings.Contains(args, w) {
				t.Errorf("container args %q lack %q", args, w)
			}
		}
		for _, a := range pod.Containers[0].Args {
			if v, ok := strings.CutPrefix(a, "--state="); ok {
				if u, err := url.Parse(v); err != nil {
					t.Errorf("--state %q: %v", v, err)
				} else if _, set := u.User.Password(); set {
					t.Error("the state URL carries a password: apply refuses it")
				}
			}
		}
		pw := false
		for _, e := range pod.Containers[0].Env {
			if e.Name == "PGPASSWORD" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				pw = true
			}
		}
		if !pw {
			t.Error("PGPASSWORD does not come from a Secret")
		}
	}
	if found != 1 {
		t.Fatalf("docs/scheduled-apply.md shows %d Jobs, want 1", found)
	}
}

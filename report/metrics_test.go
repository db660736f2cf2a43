package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/upgradeplan/upgradeplan/executor"
)

func metricsRecord() *executor.Record {
	return &executor.Record{
		Plan:    executor.PlanRef{Name: `q4 "brokers"`, Digest: "sha256:3f1c"},
		Outcome: executor.Outcome{Result: "stopped", ExitCode: 3},
		Counts:  map[executor.Status]int{executor.StatusSucceeded: 7, executor.StatusFailed: 1, executor.StatusRunning: 2},
		Buckets: []executor.BucketStats{
			{Account: "prod-ali", Action: "alibaba.kafka/UpgradeInstanceVersion", Calls: 9, Throttles: 1, Mutating: true},
			{Action: "tencent.redis/DescribeInstances", Calls: 40, Polls: 38},
		},
	}
}

// The file parses with Prometheus's own text parser (what node_exporter's textfile
// collector uses) and holds the series an alert on a long run needs.
func TestMetricsParseAsPrometheusText(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1764550000, 0)
	if err := Metrics(&buf, metricsRecord(), executor.Counters{Total: 12, InFlight: 2, ETA: 95 * time.Second}, false, now); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("not valid Prometheus text: %v\n%s", err, buf.String())
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f, ok := families[name]
		if !ok {
			t.Fatalf("no %s in\n%s", name, buf.String())
		}
	next:
		for _, m := range f.Metric {
			have := map[string]string{}
			for _, l := range m.Label {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
		t.Fatalf("no %s%v in\n%s", name, labels, buf.String())
		return 0
	}
	plan := map[string]string{"plan": `q4 "brokers"`, "digest": "sha256:3f1c"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range plan {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"upgradeplan_steps", with("status", "succeeded"), 7},
		{"upgradeplan_steps", with("status", "failed"), 1},
		{"upgradeplan_steps", with("status", "not-started"), 0},
		{"upgradeplan_steps_total", plan, 12},
		{"upgradeplan_steps_in_flight", plan, 2},
		{"upgradeplan_api_calls_total", with("account", "prod-ali", "action", "alibaba.kafka/UpgradeInstanceVersion"), 9},
		{"upgradeplan_api_throttles_total", with("account", "prod-ali", "action", "alibaba.kafka/UpgradeInstanceVersion"), 1},
		{"upgradeplan_api_polls_total", with("account", "default", "action", "tencent.redis/DescribeInstances"), 38},
		{"upgradeplan_eta_seconds", plan, 95},
		{"upgradeplan_run_finished", plan, 0},
		{"upgradeplan_last_update_timestamp_seconds", plan, float64(now.Unix())},
	} {
		if got := value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := families["upgradeplan_run_exit_code"]; ok {
		t.Error("a running run has no exit code yet")
	}
}

func TestMetricsFileIsReplacedWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "upgradeplan.prom")
	rec := metricsRecord()
	if err := WriteMetricsFile(path, rec, executor.Counters{Total: 12}, false, time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := WriteMetricsFile(path, rec, executor.Counters{Total: 12}, true, time.Unix(2, 0)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "upgradeplan_run_exit_code{plan=\"q4 \\\"brokers\\\"\",digest=\"sha256:3f1c\"} 3\n") {
		t.Errorf("the finished file lacks the exit code:\n%s", data)
	}
	if n := strings.Count(string(data), "# TYPE upgradeplan_steps gauge"); n != 1 {
		t.Errorf("the file holds %d copies of the metrics, want the last write only", n)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left beside the metrics file: %v", entries)
	}
}

package report

import (
	"io"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
)

// BenchmarkProgressEvent is one transition's log line (text mode, as apply writes to a file
// or pipe) with the plan's secrets to redact.
func BenchmarkProgressEvent(b *testing.B) {
	p := NewProgress(io.Discard, false, LogText)
	p.Redact("s3cr3t-value-one", "another-secret-value", "and-a-third-one")
	ev := executor.Event{Time: time.Now(), Step: "cache-tc-a-shanghai/crs-tc-a-shanghai-00017#1", Target: "cache-tc-a-shanghai",
		Instance: "crs-tc-a-shanghai-00017", Status: executor.StatusRunning,
		Progress: executor.Counters{Done: 10, Total: 900, InFlight: 50}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.Event(ev)
	}
}

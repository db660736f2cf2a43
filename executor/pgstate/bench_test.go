package pgstate

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/internal/pgtest"
)

// stepWrites is what the state does for one step that succeeds with one call: its lease,
// four step snapshots (sending, accepted, running, succeeded), the intent and the result,
// and the lease's release.
func stepWrites(ctx context.Context, st executor.RunState, id string) error {
	rel, _, err := st.Lease(ctx, executor.InstanceKey{Cloud: "alibaba", Region: "cn-hangzhou", Instance: id}, id)
	if err != nil || rel == nil {
		return fmt.Errorf("lease: %v", err)
	}
	rec := &executor.StepRecord{ID: id, Kind: "alibaba.kafka", Instance: id, Status: executor.StatusRunning}
	for _, e := range []executor.Entry{
		{Type: executor.EntryStep, StepID: id, Step: rec},
		{Type: executor.EntryIntent, StepID: id, Attempt: 1, ClientToken: "upgp-0123456789abcdef0123456789abcdef"},
		{Type: executor.EntryResult, StepID: id, Attempt: 1, RequestID: "8F2C6C87-0B2A-4E0A-9B8B-4C7C2F8E1D2A"},
		{Type: executor.EntryStep, StepID: id, Step: rec},
		{Type: executor.EntryStep, StepID: id, Step: rec},
		{Type: executor.EntryStep, StepID: id, Step: rec},
	} {
		e.Time = time.Now().UTC()
		if err := st.Append(ctx, e); err != nil {
			return err
		}
	}
	rel()
	return nil
}

// BenchmarkStepCost measures what the run state costs per step, for the local directory
// (fsynced), PostgreSQL on the loopback test server (fsync off) and PostgreSQL on a durable
// loopback server (fsync and synchronous commits on, as in production), one step after
// another and with 16 steps in flight (settings.parallelism). ns/op is per step: its lease,
// six journal appends (four transitions, the intent and the result) and the release.
func BenchmarkStepCost(b *testing.B) {
	ctx := context.Background()
	for _, backend := range []string{"dir", "postgres", "postgres-durable"} {
		var st executor.RunState
		switch backend {
		case "dir":
			dir := b.TempDir()
			s, err := executor.DirState{LockDir: filepath.Join(dir, "locks")}.Open(ctx, "bench", filepath.Join(dir, "run"))
			if err != nil {
				b.Fatal(err)
			}
			st = s
		case "postgres":
			state, _, _ := openTest(b)
			s, err := state.Open(ctx, "bench", "")
			if err != nil {
				b.Fatal(err)
			}
			st = s
		case "postgres-durable":
			srv, err := pgtest.Run(pgtest.Options{Durable: true})
			if err != nil {
				b.Skipf("durable server: %v", err)
			}
			defer srv.Stop()
			if err := srv.CreateDatabase("bench"); err != nil {
				b.Fatal(err)
			}
			b.Setenv("PGPASSWORD", srv.Password)
			state, err := Open(ctx, srv.URL("bench"))
			if err != nil {
				b.Fatal(err)
			}
			defer state.Close()
			s, err := state.Open(ctx, "bench", "")
			if err != nil {
				b.Fatal(err)
			}
			st = s
		}
		var n atomic.Int64
		b.Run(backend+"/serial", func(b *testing.B) {
			for b.Loop() {
				if err := stepWrites(ctx, st, fmt.Sprintf("i-%d", n.Add(1))); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(backend+"/parallel16", func(b *testing.B) {
			b.SetParallelism(8) // 8 goroutines per CPU: 16 on the CI's 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := stepWrites(ctx, st, fmt.Sprintf("i-%d", n.Add(1))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		st.Close()
	}
}

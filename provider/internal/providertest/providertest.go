// Package providertest holds the test setup the provider packages share: a Doer that
// records the requests it passes on, one that retries like the executor's limiter, a Getenv
// over a fixed map, and an endpoint that never answers. It owns no provider
// logic and is imported by _test files only.
package providertest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/upgradeplan/upgradeplan/provider"
)

// Recorder is a provider.Doer that sends every request and records it, so a test can
// check that each request the simulator received went through the Doer, and how it was
// described. It is safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	seen []provider.Request
}

var _ provider.Doer = (*Recorder)(nil)

// Do records req and sends it.
func (r *Recorder) Do(ctx context.Context, req provider.Request, send func(context.Context) error) error {
	r.mu.Lock()
	r.seen = append(r.seen, req)
	r.mu.Unlock()
	return send(ctx)
}

// Requests returns the requests recorded so far, oldest first.
func (r *Recorder) Requests() []provider.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]provider.Request(nil), r.seen...)
}

// Getenv returns a Config.Getenv that reads only kv.
func Getenv(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// Blackhole listens on loopback, accepts every connection and never answers: an endpoint
// that hangs. It returns host:port; the listener and connections close with the test.
func Blackhole(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// Retrying is a Doer that retries what the executor's limiter retries (retryable errors, up
// to 8 sends) at once, and counts the sends.
type Retrying struct{ Sends int }

func (r *Retrying) Do(ctx context.Context, _ provider.Request, send func(context.Context) error) error {
	for r.Sends = 1; ; r.Sends++ {
		if err := send(ctx); provider.ClassOf(err) != provider.ClassRetryable || r.Sends == 8 {
			return err
		}
	}
}

// SameAsRegionRead fails for every progress in got (an observation by id) that differs from
// the same instance's progress in region (a whole-region read), or whose state is not
// want[i]: reading by id must answer exactly what the region read does.
func SameAsRegionRead(t testing.TB, got, region []provider.Progress, want []provider.State) {
	t.Helper()
	byID := map[string]provider.Progress{}
	for _, pr := range region {
		byID[pr.Instance] = pr
	}
	if len(got) != len(want) {
		t.Fatalf("observed %d instances, want %d", len(got), len(want))
	}
	for i, pr := range got {
		if fmt.Sprint(pr) != fmt.Sprint(byID[pr.Instance]) {
			t.Errorf("%s by id: %+v\nregion read:  %+v", pr.Instance, pr, byID[pr.Instance])
		}
		if pr.State != want[i] {
			t.Errorf("%s: %s (%s), want %s", pr.Instance, pr.State, pr.Message, want[i])
		}
	}
}

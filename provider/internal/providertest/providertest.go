// Package providertest holds the test setup the provider packages share: a Doer that
// records the requests it passes on, and a Getenv over a fixed map. It owns no provider
// logic and is imported by _test files only.
package providertest

import (
	"context"
	"sync"

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

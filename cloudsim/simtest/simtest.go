// Package simtest starts the cloud simulator on a loopback port for tests: a product
// engineer's or provider engineer's test gets a running server, the environment the
// providers read their endpoints from, and helpers over the call log. It owns no
// simulation logic; that is package sim's.
package simtest

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/upgradeplan/upgradeplan/cloudsim/contract"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// Sim is a running simulator.
type Sim struct {
	*sim.Server
	// Addr is the server's host:port, the endpoint to point both SDKs at.
	Addr string
	// URL is "http://" + Addr.
	URL string
}

// Start builds a server from the state YAML and the products and serves it on
// 127.0.0.1 until the test ends. A bad state or faults file fails the test. When the
// test ends, every answer the server sent is checked against the vendors' current API
// models (package contract), and each difference fails the test.
func Start(t testing.TB, state string, opts sim.Options, products ...sim.Product) *Sim {
	t.Helper()
	checkAnswers(t, &opts)
	srv, err := sim.NewServer([]byte(state), opts, products...)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &Sim{Server: srv, Addr: strings.TrimPrefix(hs.URL, "http://"), URL: hs.URL}
}

// Env returns the environment the providers need to reach this simulator, as KEY=VALUE
// pairs: UPGRADEPLAN_ALIBABA_ENDPOINT and UPGRADEPLAN_TENCENT_ENDPOINT, both Addr.
// Credentials are not included: they depend on the account a test uses.
func (s *Sim) Env() []string {
	return []string{
		"UPGRADEPLAN_ALIBABA_ENDPOINT=" + s.Addr,
		"UPGRADEPLAN_TENCENT_ENDPOINT=" + s.Addr,
	}
}

// SetEnv sets Env() for the rest of the test with t.Setenv.
func (s *Sim) SetEnv(t testing.TB) {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// CallsTo returns the calls of an action received so far, oldest first. An empty
// action means every call.
func (s *Sim) CallsTo(action string) []sim.CallRecord {
	var out []sim.CallRecord
	for _, c := range s.Calls() {
		if action == "" || c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

// Count returns how many calls of the action were received, whatever their answer.
func (s *Sim) Count(action string) int { return len(s.CallsTo(action)) }

// CountOK returns how many calls of the action were answered with success (a dropped
// connection after the change was applied included).
func (s *Sim) CountOK(action string) int {
	n := 0
	for _, c := range s.CallsTo(action) {
		if c.OK() {
			n++
		}
	}
	return n
}

// CountCode returns how many calls of the action were answered with the error code.
func (s *Sim) CountCode(action, code string) int {
	n := 0
	for _, c := range s.CallsTo(action) {
		if c.Code == code {
			n++
		}
	}
	return n
}

// checkAnswers makes opts record every answer (after any hook the test set) and checks
// them once the server has stopped. A difference is reported once per action and path.
func checkAnswers(t testing.TB, opts *sim.Options) {
	var mu sync.Mutex
	var answers []sim.Answer
	next := opts.Answered
	opts.Answered = func(a sim.Answer) {
		mu.Lock()
		answers = append(answers, a)
		mu.Unlock()
		if next != nil {
			next(a)
		}
	}
	t.Cleanup(func() { // registered before the server's Close, so it runs after it
		mu.Lock()
		defer mu.Unlock()
		seen := map[string]bool{}
		for _, a := range answers {
			for _, v := range contract.Check(a) {
				key := v.Product + "/" + v.Action + " " + v.Path
				if !seen[key] {
					seen[key] = true
					t.Errorf("simulator answer differs from the current API model: %s", v)
				}
			}
		}
	})
}

package provider

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
)

// An endpoint nobody answers at fails after SilentAttempts tries, naming what to set: the
// simulator's port when an override points at nothing, the override variable when the real
// endpoint cannot be reached (the README's walk-through copied without its exports).
func TestUnreachableEndpointsGiveUpNamingTheVariable(t *testing.T) {
	refused := fmt.Errorf("post: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED})
	noHost := fmt.Errorf("post: %w", &net.DNSError{Err: "no such host", Name: "alikafka.cn-hangzhou.aliyuncs.com", IsNotFound: true})
	for _, c := range []struct {
		name string
		s    *Silence
		err  error
		want []string
	}{
		{"an override with nothing listening", &Silence{Endpoint: "127.0.0.1:40123", Variable: "UPGRADEPLAN_ALIBABA_ENDPOINT", EnvVar: "UPGRADEPLAN_ALIBABA_ENDPOINT"}, refused,
			[]string{"nothing answers at 127.0.0.1:40123 (set by UPGRADEPLAN_ALIBABA_ENDPOINT): connection refused", "upgradeplan sim --listen 127.0.0.1:40123"}},
		{"the real endpoint without the override", &Silence{Endpoint: "alikafka.cn-hangzhou.aliyuncs.com", EnvVar: "UPGRADEPLAN_ALIBABA_ENDPOINT"}, noHost,
			[]string{"cannot reach alikafka.cn-hangzhou.aliyuncs.com: no such host", "UPGRADEPLAN_ALIBABA_ENDPOINT is not set", "export UPGRADEPLAN_ALIBABA_ENDPOINT=HOST:PORT"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.s.Observe(false, c.err); err != nil {
				t.Fatalf("gave up after one attempt: %v", err)
			}
			err := c.s.Observe(false, c.err)
			if err == nil {
				t.Fatalf("still retrying after %d unreachable attempts", SilentAttempts)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
	// Once an endpoint has answered, a refused connection is a blip, retried as before.
	s := &Silence{Endpoint: "127.0.0.1:1", Variable: "V"}
	s.Observe(true, nil)
	for i := 0; i < 5; i++ {
		if err := s.Observe(false, refused); err != nil {
			t.Fatalf("an endpoint that answered before gave up: %v", err)
		}
	}
}
